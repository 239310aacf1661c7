"""Bad input through the CLI: a non-zero exit, an error naming what and where, nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from baton.cli import app
from baton.store import open_store

#: A valid event that must not be accepted when a later line of the same file is bad.
GOOD_LINE = json.dumps({"key": "ok-1", "type": "service.down", "entity": "db",
                        "time": "2026-03-02T10:05:00Z", "attrs": {}})

Snapshot = tuple[dict[str, int], tuple[int, str]]


def baton(*args: str | Path) -> Result:
    """Run the `baton` command in-process."""
    return CliRunner().invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def snapshot(db: Path) -> Snapshot:
    """Row counts and ledger head of a database."""
    store = open_store(db, create=False)
    try:
        return store.counts(), store.ledger_head()
    finally:
        store.close()


def open_escalation(db: Path) -> str:
    """The id of the only open escalation in `db`."""
    store = open_store(db, create=False)
    try:
        found = store.escalations(status="open")
    finally:
        store.close()
    assert len(found) == 1
    return found[0].id


def escalation_status(db: Path, escalation_id: str) -> str:
    """The stored status of one escalation."""
    store = open_store(db, create=False)
    try:
        esc = store.escalation(escalation_id)
    finally:
        store.close()
    assert esc is not None
    return esc.status


@pytest.fixture
def db(tmp_path: Path, starter_dir: Path) -> Path:
    """A SQLite database on the starter configuration with one open escalation: api is down
    (tier 0), so its restart waits for approval. The event is a minute old so the escalation
    is still within its deadline when a test approves it on the wall clock."""
    path = tmp_path / "baton.db"
    recent = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = tmp_path / "setup.jsonl"
    events.write_text(json.dumps({"key": "k1", "type": "service.down", "entity": "api",
                                  "time": recent, "attrs": {}}) + "\n")
    result = baton("ingest", events, "--db", path, "--config", starter_dir)
    assert result.exit_code == 0, result.output
    open_escalation(path)
    return path


# --- baton ingest ----------------------------------------------------------------------------


BAD_LINES = {
    "malformed-json": ('{"key": "k2", "type": "service.down",', ["malformed JSON"]),
    "unknown-type": (json.dumps({"key": "k2", "type": "service.exploded", "entity": "db",
                                 "time": "2026-03-02T10:06:00Z"}),
                     ["unknown event type 'service.exploded'"]),
    "alert-without-value": (json.dumps({"key": "k2", "type": "alert", "entity": "worker",
                                        "time": "2026-03-02T10:06:00Z",
                                        "attrs": {"metric": "cpu_util"}}),
                            ["'k2'", "'alert'", "attrs.value"]),
    "no-time": (json.dumps({"key": "k2", "type": "service.down", "entity": "db"}),
                ["'time'", "required"]),
    "time-without-zone": (json.dumps({"key": "k2", "type": "service.down", "entity": "db",
                                      "time": "2026-03-02T10:06:00"}),
                          ["'time'", "time zone"]),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_ingest_rejects_the_whole_file_naming_the_bad_line(
        case: str, db: Path, tmp_path: Path) -> None:
    bad, fragments = BAD_LINES[case]
    source = tmp_path / "events.jsonl"
    source.write_text(f"{GOOD_LINE}\n\n{bad}\n")  # the bad event is on line 3
    before = snapshot(db)

    result = baton("ingest", source, "--db", db)

    assert result.exit_code == 2
    message = flat(result.stderr)
    assert message.startswith("error:")
    assert f"{source}:3" in message
    for fragment in fragments:
        assert fragment in message
    assert snapshot(db) == before  # the valid line 1 was not accepted either


# --- baton check -----------------------------------------------------------------------------


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` (which must occur once) with `new`; return the 1-based line of the edit."""
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return text[:text.index(old)].count("\n") + 1


def check_fails(directory: Path, *fragments: str) -> None:
    """`baton check` exits 2 naming every fragment, and leaves the directory as it was."""
    before = files_of(directory)
    result = baton("check", directory)
    assert result.exit_code == 2, result.output
    message = flat(result.stderr)
    assert message.startswith("error:")
    for fragment in fragments:
        assert fragment in message
    assert "ok" not in result.stdout
    assert files_of(directory) == before


def test_check_accepts_the_starter_configuration(starter_dir: Path) -> None:
    result = baton("check", starter_dir)
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout


def test_check_names_the_line_of_invalid_yaml(starter_dir: Path) -> None:
    org = starter_dir / "org.yaml"
    line = edit(org, "freezes: []", "freezes: [}")
    check_fails(starter_dir, f"{org}:{line}", "invalid YAML")


def test_check_names_the_field_of_an_unknown_time_zone(starter_dir: Path) -> None:
    org = starter_dir / "org.yaml"
    line = edit(org, "timezone: Asia/Singapore", "timezone: Mars/Olympus")
    check_fails(starter_dir, f"{org}:{line}", "people[1].timezone", "'Mars/Olympus'")


def test_check_names_a_dependency_on_an_unknown_service(starter_dir: Path) -> None:
    org = starter_dir / "org.yaml"
    line = edit(org, "dependencies: [db], hourly_cost: 5", "dependencies: [db, nope], "
                "hourly_cost: 5")
    check_fails(starter_dir, f"{org}:{line}", "services[2].dependencies[1]",
                "unknown service 'nope'")


def test_check_names_a_dependency_cycle(starter_dir: Path) -> None:
    org = starter_dir / "org.yaml"
    line = edit(org, "{id: db, tier: 1, team: platform, hourly_cost: 20}",
                "{id: db, tier: 1, team: platform, hourly_cost: 20, dependencies: [reports]}")
    check_fails(starter_dir, f"{org}:{line}", "services[0].dependencies",
                "dependency cycle: db -> reports -> worker -> db")


def write_policy(directory: Path, statement: str) -> Path:
    """Add a policy file whose one statement starts on line 3."""
    path = directory / "policies" / "extra.cedar"
    path.write_text(f"// added by the test\n\n{statement}\n")
    return path


def test_check_names_the_file_and_line_of_a_cedar_syntax_error(starter_dir: Path) -> None:
    path = write_policy(starter_dir, '@id("broken") @verdict("autonomous")\n'
                        'permit (principal, action == Action::"restart" resource);')
    check_fails(starter_dir, f"{path}:4", "invalid Cedar")  # the line of the mistake


def test_check_rejects_a_permit_without_a_verdict(starter_dir: Path) -> None:
    path = write_policy(starter_dir, '@id("no-verdict")\npermit (principal, action, resource);')
    check_fails(starter_dir, f"{path}:3", "'no-verdict'", "@verdict")


def test_check_rejects_a_duplicate_policy_id(starter_dir: Path) -> None:
    path = write_policy(starter_dir, '@id("scale-in-low-risk") @verdict("autonomous")\n'
                        'permit (principal, action, resource);')
    first = starter_dir / "policies" / "cost.cedar"
    check_fails(starter_dir, f"{path}:3", "duplicate @id('scale-in-low-risk')",
                f"first at {first}:1")


# --- baton explain ---------------------------------------------------------------------------


def test_explain_of_an_unknown_decision_names_the_id(db: Path) -> None:
    before = snapshot(db)
    result = baton("explain", "NOPE", "--db", db)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "error:" in message
    assert "'NOPE'" in message
    assert snapshot(db) == before


def test_explain_on_a_missing_database_creates_no_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = baton("explain", "D-0000001", "--db", missing)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "error:" in message
    assert str(missing) in message
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


# --- baton approve / reject ------------------------------------------------------------------


def test_approving_an_unknown_escalation_names_it_and_writes_nothing(db: Path) -> None:
    before = snapshot(db)
    result = baton("approve", "E-9999999", "--db", db, "--by", "ana")
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "error:" in message
    assert "'E-9999999'" in message
    assert snapshot(db) == before


def test_approving_twice_fails_the_second_time_and_changes_nothing(db: Path) -> None:
    escalation_id = open_escalation(db)
    first = baton("approve", escalation_id, "--db", db, "--by", "ana")
    assert first.exit_code == 0, first.output
    assert "approved" in first.stdout
    assert escalation_status(db, escalation_id) == "approved"
    after_first = snapshot(db)

    second = baton("approve", escalation_id, "--db", db, "--by", "ana")

    assert second.exit_code == 2
    message = flat(second.stderr)
    assert f"escalation {escalation_id} is already approved" in message
    assert snapshot(db) == after_first


def test_rejecting_after_approval_fails_and_changes_nothing(db: Path) -> None:
    escalation_id = open_escalation(db)
    assert baton("approve", escalation_id, "--db", db, "--by", "ana").exit_code == 0
    after_approval = snapshot(db)

    result = baton("reject", escalation_id, "--db", db, "--by", "ana")

    assert result.exit_code == 2
    assert f"escalation {escalation_id} is already approved" in flat(result.stderr)
    assert snapshot(db) == after_approval
    assert escalation_status(db, escalation_id) == "approved"


# --- baton kill-switch -----------------------------------------------------------------------


def test_kill_switch_rejects_a_state_other_than_on_or_off(db: Path) -> None:
    before = snapshot(db)
    result = baton("kill-switch", "maybe", "--db", db)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "error:" in message
    assert "'maybe'" in message
    assert snapshot(db) == before


def test_kill_switch_rejects_an_unknown_domain(db: Path) -> None:
    before = snapshot(db)
    result = baton("kill-switch", "on", "--domain", "nosuch", "--db", db)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "--domain 'nosuch'" in message
    assert "reliability" in message  # the known domains are listed
    assert snapshot(db) == before
    store = open_store(db, create=False)
    try:
        assert store.setting("kill_switch") is None
    finally:
        store.close()


def test_ingest_of_a_bad_file_into_a_new_database_creates_no_file(
        tmp_path: Path, starter_dir: Path) -> None:
    events = tmp_path / "bad.jsonl"
    events.write_text('{"key": "k1", "type": "service.down", "entity": "db", "time": "x"}\n')
    target = tmp_path / "new.db"
    result = baton("ingest", events, "--db", target, "--config", starter_dir)
    assert result.exit_code == 2
    assert "bad.jsonl:1" in flat(result.output)
    assert not target.exists()


def test_approving_after_the_deadline_fails_and_writes_nothing(
        tmp_path: Path, starter_dir: Path) -> None:
    path = tmp_path / "late.db"
    old = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = tmp_path / "setup.jsonl"
    events.write_text(json.dumps({"key": "k1", "type": "service.down", "entity": "api",
                                  "time": old, "attrs": {}}) + "\n")
    assert baton("ingest", events, "--db", path, "--config", starter_dir).exit_code == 0
    escalation = open_escalation(path)
    before = snapshot(path)
    result = baton("approve", escalation, "--db", path, "--by", "ana")
    assert result.exit_code == 2
    assert "expired" in flat(result.output)
    assert snapshot(path) == before


def test_check_rejects_a_freeze_without_a_time_zone(starter_dir: Path) -> None:
    org = starter_dir / "org.yaml"
    line = edit(org, "freezes: []", "freezes:\n  - {id: f, start: 2026-03-02T14:00:00, "
                "end: 2026-03-02T16:00:00Z}")
    check_fails(starter_dir, f"{org}:{line + 1}", "freezes[0].start", "time zone")


def test_check_rejects_a_route_to_an_unconfigured_connector(starter_dir: Path) -> None:
    settings = starter_dir / "baton.yaml"
    line = edit(settings, "  default: sim", "  default: sim\n  routes: {restart: http}")
    check_fails(starter_dir, f"{settings}:{line + 1}", "connectors.routes.restart",
                "'http' connector, which is not configured")


def test_check_rejects_a_playbook_for_a_situation_no_detector_raises(
        starter_dir: Path) -> None:
    playbooks = starter_dir / "playbooks.yaml"
    line = edit(playbooks, "      saturation:", "      saturaton:")
    check_fails(starter_dir, f"{playbooks}:{line}", "agents[0].playbooks.saturaton",
                "no detector in baton.yaml raises situation 'saturaton'")


def test_check_rejects_a_duplicate_detector_id(starter_dir: Path) -> None:
    settings = starter_dir / "baton.yaml"
    line = edit(settings, "{id: cpu, kind: threshold", "{id: down, kind: threshold")
    check_fails(starter_dir, f"{settings}:{line}", "detectors[2].id",
                "duplicate detector id 'down'")
