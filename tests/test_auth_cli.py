"""`baton token` and `baton user`: logins and API tokens managed from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner, Result

from baton.auth import Auth, AuthStore
from baton.auth.tables import api_tokens, users
from baton.cli import app
from baton.config import load_config
from baton.store import Step, open_store

PASSWORD = "correct horse battery"
TOKEN = re.compile(r"baton_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def baton(*args: str | Path, stdin: str | None = None) -> Result:
    """Run the `baton` command in-process."""
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def db(tmp_path: Path, starter_dir: Path) -> Path:
    """A SQLite database remembering the starter configuration."""
    path = tmp_path / "baton.db"
    store = open_store(path)
    store.commit(Step(settings={"config": str(starter_dir)}))
    store.close()
    return path


def auth_on(db: Path) -> Auth:
    """Authentication on `db` for the configuration it remembers."""
    store = open_store(db, create=False)
    remembered = store.setting("config")
    assert remembered is not None
    return Auth(AuthStore(store.engine), load_config(Path(remembered)).org)


def rows(db: Path, table: object) -> list[dict[str, object]]:
    """Every row of one of the authentication tables."""
    store = open_store(db, create=False)
    try:
        with store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(table))]  # type: ignore[call-overload]
    finally:
        store.close()


def created_token(db: Path, user: str = "ana") -> tuple[str, str]:
    """Create a token through the CLI; returns (id, plaintext) read from its output."""
    result = baton("token", "create", "--user", user, "--db", db)
    assert result.exit_code == 0, result.output
    found = TOKEN.search(result.output)
    assert found is not None, result.output
    return found.group(0).split("_")[1], found.group(0)


# --- baton token ----------------------------------------------------------------------------

def test_token_create_prints_a_working_token_and_how_to_send_it(db: Path) -> None:
    result = baton("token", "create", "--user", "ana", "--db", db)
    assert result.exit_code == 0, result.output
    plaintext = TOKEN.search(result.output)
    assert plaintext is not None
    assert f"Authorization: Bearer {plaintext.group(0)}" in result.output
    access = auth_on(db).person("ana").access
    assert "shown only now" in flat(result.output) and f"{access} access" in result.output
    who = auth_on(db).token_principal(plaintext.group(0))
    assert who is not None and (who.person, who.access, who.via) == ("ana", access, "token")


def test_token_create_stores_only_the_hash(db: Path) -> None:
    token_id, plaintext = created_token(db)
    [row] = rows(db, api_tokens)
    assert row["id"] == token_id
    assert not any(plaintext.rsplit("_", 1)[1] in str(v) for v in row.values())


def test_token_create_for_an_unknown_user_exits_2_naming_them(db: Path) -> None:
    result = baton("token", "create", "--user", "zed", "--db", db)
    assert result.exit_code == 2
    assert "'zed'" in result.output and "error" in result.output
    assert rows(db, api_tokens) == []


def test_token_list_shows_ids_and_people_but_never_secrets(db: Path) -> None:
    ana_id, ana_token = created_token(db, "ana")
    ben_id, _ = created_token(db, "ben")
    result = baton("token", "list", "--db", db)
    assert result.exit_code == 0, result.output
    assert ana_id in result.output and ben_id in result.output and "active" in result.output
    assert ana_token.rsplit("_", 1)[1] not in result.output
    only_ben = baton("token", "list", "--db", db, "--user", "ben")
    assert ben_id in only_ben.output and ana_id not in only_ben.output


def test_token_list_with_no_tokens_says_how_to_make_one(db: Path) -> None:
    result = baton("token", "list", "--db", db)
    assert result.exit_code == 0 and "baton token create" in result.output


def test_token_list_for_an_unknown_user_exits_2_naming_them(db: Path) -> None:
    result = baton("token", "list", "--db", db, "--user", "zed")
    assert result.exit_code == 2 and "'zed'" in result.output


def test_token_revoke_stops_the_token_authenticating(db: Path) -> None:
    token_id, plaintext = created_token(db)
    result = baton("token", "revoke", token_id, "--db", db)
    assert result.exit_code == 0, result.output
    assert auth_on(db).token_principal(plaintext) is None
    assert "revoked" in baton("token", "list", "--db", db).output


def test_token_revoke_of_an_unknown_id_exits_2_naming_it(db: Path) -> None:
    result = baton("token", "revoke", "nope", "--db", db)
    assert result.exit_code == 2 and "'nope'" in result.output


# --- baton user -----------------------------------------------------------------------------

def test_user_password_from_stdin_lets_the_person_sign_in(db: Path) -> None:
    result = baton("user", "password", "ben", "--db", db, "--password-stdin",
                   stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "password set for ben" in result.output
    assert auth_on(db).login("ben", PASSWORD, ip=None) is not None
    [row] = rows(db, users)
    assert PASSWORD not in str(row["password_hash"])


def test_user_password_prompts_twice_with_hidden_input(db: Path) -> None:
    result = baton("user", "password", "ben", "--db", db, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "new password for ben:" in result.output and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert auth_on(db).login("ben", PASSWORD, ip=None) is not None


def test_user_password_asks_again_when_the_two_entries_differ(db: Path) -> None:
    result = baton("user", "password", "ben", "--db", db,
                   stdin=f"{PASSWORD}\n{PASSWORD}!\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert auth_on(db).login("ben", PASSWORD, ip=None) is not None


def test_user_password_that_is_too_short_exits_2_and_sets_nothing(db: Path) -> None:
    result = baton("user", "password", "ben", "--db", db, "--password-stdin", stdin="short\n")
    assert result.exit_code == 2
    assert "at least 10 characters" in flat(result.output)
    assert rows(db, users) == []


def test_user_password_for_an_unknown_user_exits_2_before_asking(db: Path) -> None:
    result = baton("user", "password", "zed", "--db", db)
    assert result.exit_code == 2
    assert "'zed'" in result.output and "password for" not in result.output


def test_user_list_shows_everyones_access_and_who_has_a_password(
        db: Path, starter_dir: Path) -> None:
    baton("user", "password", "ana", "--db", db, "--password-stdin", stdin=PASSWORD)
    result = baton("user", "list", "--db", db)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}
    org = load_config(starter_dir).org
    assert lines == {p.id: [p.name or "-", p.access, "set" if p.id == "ana" else "-"]
                     for p in org.people}


def test_user_list_follows_an_edited_organisation(db: Path, starter_dir: Path) -> None:
    path = starter_dir / "org.yaml"
    org = yaml.safe_load(path.read_text())
    for person in org["people"]:
        person["access"] = "admin" if person["id"] == "ben" else person.get("access", "viewer")
    path.write_text(yaml.safe_dump(org))
    result = baton("user", "list", "--db", db)
    assert result.exit_code == 0, result.output
    ben = next(line.split() for line in result.output.splitlines() if line.split()[:1] == ["ben"])
    assert ben[2] == "admin"


# --- the database -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["token", "list"], ["user", "list"],
                                     ["token", "create", "--user", "ana"]])
def test_commands_on_a_missing_database_exit_2_and_create_nothing(
        tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "missing.db"
    result = baton(*command, "--db", missing)
    assert result.exit_code == 2 and "no database here" in flat(result.output)
    assert not missing.exists()


def test_commands_on_a_database_without_a_configuration_exit_2_saying_so(
        tmp_path: Path) -> None:
    bare = tmp_path / "bare.db"
    open_store(bare).close()
    result = baton("user", "list", "--db", bare)
    assert result.exit_code == 2 and "no configuration is known" in flat(result.output)


def test_objectives_show_and_change_through_the_cli(db: Path) -> None:
    shown = baton("objectives", "--db", db)
    assert shown.exit_code == 0 and "customer_impact" in shown.stdout
    refused = baton("objectives", "--db", db, "--cost", "2")
    assert refused.exit_code == 2 and "--by" in flat(refused.stdout + refused.stderr)
    changed = baton("objectives", "--db", db, "--cost", "2.5", "--by", "ana")
    assert changed.exit_code == 0, changed.stdout
    assert "2.5" in changed.stdout and "(changed)" in changed.stdout
    again = baton("objectives", "--db", db)
    assert "2.5" in again.stdout
    bad = baton("objectives", "--db", db, "--risk", "-1", "--by", "ana")
    assert bad.exit_code == 2 and "risk" in flat(bad.stdout + bad.stderr)
