"""Authentication: passwords, rate-limited logins, sessions with CSRF, and API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from baton.auth import (
    ROLES,
    Auth,
    AuthStore,
    Principal,
    RateLimited,
    at_least,
    seed_demo_logins,
)
from baton.auth.passwords import Passwords, cheap_hasher
from baton.auth.service import sha256_hex
from baton.auth.tables import api_tokens, sessions
from baton.config import Config, load_config
from baton.errors import BatonError, InputError, NotFoundError
from baton.org.model import Organisation
from baton.scenarios import scenario_path
from baton.store.sql import SqlStore
from conftest import T0

PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.at += timedelta(**delta)


def reorganised(org: Organisation, *, access: dict[str, str] | None = None,
                drop: str | None = None) -> Organisation:
    """The organisation with some people's access changed, or one person removed."""
    data: dict[str, Any] = org.model_dump()
    data["people"] = [dict(p, access=(access or {}).get(p["id"], p["access"]))
                      for p in data["people"] if p["id"] != drop]
    return Organisation.model_validate(data)


class OrgHolder:
    """The organisation as it is now: tests swap it to model an edited org.yaml."""

    def __init__(self, org: Organisation) -> None:
        self.org = org

    def __call__(self) -> Organisation:
        return self.org


@pytest.fixture
def clock() -> FakeClock:
    """A clock starting at T0."""
    return FakeClock(T0)


@pytest.fixture
def orgs(starter: Config) -> OrgHolder:
    """The starter organisation with ana an admin, raj an approver and ben a viewer."""
    return OrgHolder(reorganised(starter.org, access={"ana": "admin", "raj": "approver",
                                                      "ben": "viewer"}))


@pytest.fixture
def auth(store: SqlStore, clock: FakeClock, orgs: OrgHolder) -> Iterator[Auth]:
    """Authentication on each backend, with a cheap hasher; ana has a password."""
    a = Auth(AuthStore(store.engine, clock=clock), orgs, hasher=cheap_hasher())
    a.set_password("ana", PASSWORD)
    yield a


def fail_login(auth: Auth, person: str = "ana", *, ip: str = "10.0.0.1", times: int = 1) -> None:
    """Try a wrong password `times` times; each must be refused."""
    for _ in range(times):
        assert auth.login(person, "wrong password!", ip=ip) is None


# --- roles ----------------------------------------------------------------------------------

def test_access_levels_are_ordered_viewer_operator_approver_admin() -> None:
    assert ROLES == ("viewer", "operator", "approver", "admin")
    assert at_least("admin", "viewer") and at_least("approver", "approver")
    assert not at_least("operator", "approver")
    assert Principal("ana", "Ana", "approver", "token").can("operator")


def test_an_unknown_access_level_is_an_error_naming_it() -> None:
    with pytest.raises(InputError, match="'root'"):
        at_least("root", "viewer")


# --- passwords ------------------------------------------------------------------------------

def test_a_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    pw = Passwords(cheap_hasher())
    stored = pw.hash(PASSWORD)
    assert PASSWORD not in stored and stored.startswith("$argon2id$")
    assert pw.verify(stored, PASSWORD)
    assert not pw.verify(stored, PASSWORD + "x")
    assert not pw.verify(None, PASSWORD)
    assert not pw.verify("not a hash", PASSWORD)


def test_a_weaker_stored_hash_needs_rehashing() -> None:
    stored = Passwords(cheap_hasher()).hash(PASSWORD)
    assert Passwords().needs_rehash(stored)
    assert not Passwords(cheap_hasher()).needs_rehash(stored)


def test_a_password_shorter_than_ten_characters_is_refused_with_its_length() -> None:
    with pytest.raises(InputError, match=r"at least 10 characters \(this one has 9\)"):
        Passwords(cheap_hasher()).hash("123456789")


def test_setting_a_password_for_someone_outside_the_organisation_names_them(
        auth: Auth) -> None:
    with pytest.raises(NotFoundError, match="'zed'"):
        auth.set_password("zed", PASSWORD)
    assert "zed" not in auth.password_set()


# --- login ----------------------------------------------------------------------------------

def test_the_right_password_opens_a_session_for_the_person(auth: Auth, clock: FakeClock) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert session is not None and session.person == "ana"
    assert session.expires == T0 + timedelta(hours=12)
    assert auth.session_principal(session.cookie) == Principal("ana", "ana", "admin", "session")


def test_a_wrong_password_unknown_person_or_person_without_password_is_refused(
        auth: Auth) -> None:
    assert auth.login("ana", "wrong password!", ip="10.0.0.1") is None
    assert auth.login("zed", PASSWORD, ip="10.0.0.2") is None
    assert auth.login("raj", PASSWORD, ip="10.0.0.3") is None


def test_after_five_failures_the_person_waits_at_that_address_with_growing_delays(
        auth: Auth, clock: FakeClock) -> None:
    fail_login(auth, times=5)
    with pytest.raises(RateLimited, match=r"ana from 10\.0\.0\.1; try again in 30 s") as caught:
        auth.login("ana", PASSWORD, ip="10.0.0.1")  # not even the right password is checked
    assert caught.value.retry_after == 30 and isinstance(caught.value, BatonError)
    clock.advance(seconds=30)
    fail_login(auth)  # the sixth failure: the next wait doubles
    with pytest.raises(RateLimited, match="try again in 60 s"):
        auth.login("ana", PASSWORD, ip="10.0.0.1")
    clock.advance(seconds=60)
    fail_login(auth)
    with pytest.raises(RateLimited, match="try again in 120 s"):
        auth.login("ana", PASSWORD, ip="10.0.0.1")
    clock.advance(seconds=120)
    assert auth.login("ana", PASSWORD, ip="10.0.0.1") is not None


def test_the_wait_never_grows_past_fifteen_minutes(auth: Auth, clock: FakeClock) -> None:
    for _ in range(12):
        fail_login(auth, times=1)
        clock.advance(minutes=15)
    fail_login(auth)
    with pytest.raises(RateLimited, match="try again in 900 s"):
        auth.login("ana", PASSWORD, ip="10.0.0.1")


def test_wrong_passwords_from_elsewhere_never_lock_a_person_out_where_she_is(
        auth: Auth) -> None:
    # the lock-out denial of service: someone types ana's id with wrong passwords all day
    refused = 0
    for i in range(60):
        try:
            fail_login(auth, ip=f"10.6.6.{i % 3}")
        except RateLimited:
            refused += 1
    assert refused == 45  # each address is slowed after its fifth failure
    assert auth.login("ana", PASSWORD, ip="10.0.0.1") is not None


def test_failures_older_than_an_hour_are_forgotten(auth: Auth, clock: FakeClock) -> None:
    fail_login(auth, times=5)
    clock.advance(minutes=61)
    fail_login(auth, times=4)
    assert auth.login("ana", PASSWORD, ip="10.0.0.1") is not None


def test_twenty_failures_from_one_address_slow_that_address_for_everyone(
        auth: Auth) -> None:
    for person in ("ana", "raj", "sue", "ben", "zed"):
        fail_login(auth, person, ip="10.6.6.6", times=4)
    with pytest.raises(RateLimited, match=r"address 10\.6\.6\.6; try again in 30 s"):
        auth.login("ana", PASSWORD, ip="10.6.6.6")
    assert auth.login("ana", PASSWORD, ip="10.0.0.1") is not None


def test_an_admin_unlock_lets_the_person_in_at_once(auth: Auth) -> None:
    fail_login(auth, times=5, ip="10.0.0.1")
    fail_login(auth, times=5, ip="10.0.0.2")
    assert auth.unlock("ana") == 2
    assert auth.login("ana", PASSWORD, ip="10.0.0.1") is not None


def test_a_successful_login_resets_the_persons_failure_count(auth: Auth) -> None:
    fail_login(auth, times=4, ip="10.0.0.1")
    assert auth.login("ana", PASSWORD, ip="10.0.0.2") is not None
    fail_login(auth, times=4, ip="10.0.0.3")
    assert auth.login("ana", PASSWORD, ip="10.0.0.4") is not None


def test_setting_a_new_password_lifts_a_lockout_and_ends_sessions(auth: Auth) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert session is not None
    fail_login(auth, times=5, ip="10.0.0.2")
    auth.set_password("ana", "another good password")
    assert auth.session_principal(session.cookie) is None
    assert auth.login("ana", "another good password", ip="10.0.0.2") is not None


def test_a_password_change_revokes_the_persons_api_tokens(auth: Auth) -> None:
    _, ana_token = auth.create_token("ana")
    _, raj_token = auth.create_token("raj")
    assert auth.token_principal(ana_token) is not None
    assert auth.set_password("ana", "another good password") == 1
    assert auth.token_principal(ana_token) is None
    assert auth.token_principal(raj_token) is not None  # someone else's stays


# --- sessions -------------------------------------------------------------------------------

def test_a_session_expires_after_twelve_hours(auth: Auth, clock: FakeClock) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert session is not None
    clock.advance(hours=11, minutes=59, seconds=59)
    assert auth.session_principal(session.cookie) is not None
    clock.advance(seconds=1)
    assert auth.session_principal(session.cookie) is None
    assert not auth.check_csrf(session.cookie, session.csrf)


def test_logout_ends_the_session(auth: Auth) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert session is not None
    auth.logout(session.cookie)
    assert auth.session_principal(session.cookie) is None
    auth.logout(session.cookie)  # a second logout is harmless


def test_an_unknown_cookie_signs_nobody_in(auth: Auth) -> None:
    assert auth.session_principal("made-up") is None
    assert auth.session_principal("x" * 10_000) is None


def test_only_the_sessions_own_csrf_token_passes(auth: Auth) -> None:
    one = auth.login("ana", PASSWORD, ip="10.0.0.1")
    two = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert one is not None and two is not None and one.csrf != two.csrf
    assert auth.csrf_token(one.cookie) == one.csrf
    assert auth.check_csrf(one.cookie, one.csrf)
    assert not auth.check_csrf(one.cookie, two.csrf)
    assert not auth.check_csrf(one.cookie, "")
    assert not auth.check_csrf(one.cookie, "nön-ascii")
    assert not auth.check_csrf("made-up", one.csrf)


def test_the_database_keeps_only_the_hash_of_a_session_cookie(
        auth: Auth, store: SqlStore) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    assert session is not None
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(sessions))]
    assert len(rows) == 1 and rows[0][0] == sha256_hex(session.cookie)
    assert not any(session.cookie in str(v) for v in rows[0])


# --- API tokens -----------------------------------------------------------------------------

def test_a_new_token_authenticates_its_person_and_notes_when_it_was_used(
        auth: Auth, clock: FakeClock) -> None:
    token_id, plaintext = auth.create_token("raj")
    assert plaintext.startswith(f"baton_{token_id}_")
    clock.advance(minutes=5)
    assert auth.token_principal(plaintext) == Principal("raj", "raj", "approver", "token")
    [info] = auth.list_tokens()
    assert (info.id, info.person, info.created, info.last_used, info.revoked) == (
        token_id, "raj", T0, T0 + timedelta(minutes=5), False)


def test_the_database_keeps_only_the_sha256_of_a_token(auth: Auth, store: SqlStore) -> None:
    token_id, plaintext = auth.create_token("raj")
    with store.engine.connect() as conn:
        [row] = [r._mapping for r in conn.execute(select(api_tokens))]
    assert row["id"] == token_id and row["token_hash"] == sha256_hex(plaintext)
    secret = plaintext.rsplit("_", 1)[1]
    assert not any(secret in str(v) for v in row.values())


def test_a_revoked_token_no_longer_authenticates(auth: Auth) -> None:
    token_id, plaintext = auth.create_token("raj")
    auth.revoke_token(token_id)
    assert auth.token_principal(plaintext) is None
    assert [t.revoked for t in auth.list_tokens("raj")] == [True]


def test_revoking_an_unknown_token_names_it(auth: Auth) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        auth.revoke_token("nope")


@pytest.mark.parametrize("text", ["", "baton", "baton_x_y", "bearer_abc_def", "baton__",
                                  "baton_" + "a" * 300])
def test_malformed_or_unknown_tokens_authenticate_nobody(auth: Auth, text: str) -> None:
    auth.create_token("raj")
    assert auth.token_principal(text) is None


def test_a_token_with_a_forged_secret_authenticates_nobody(auth: Auth) -> None:
    token_id, _ = auth.create_token("raj")
    assert auth.token_principal(f"baton_{token_id}_forged") is None


def test_tokens_list_by_person_without_secrets(auth: Auth) -> None:
    raj, _ = auth.create_token("raj")
    ana, _ = auth.create_token("ana")
    assert {t.id for t in auth.list_tokens()} == {raj, ana}
    assert [t.id for t in auth.list_tokens("ana")] == [ana]
    assert not hasattr(auth.list_tokens()[0], "token_hash")


def test_a_token_for_someone_outside_the_organisation_is_refused_naming_them(
        auth: Auth) -> None:
    with pytest.raises(NotFoundError, match="'zed'"):
        auth.create_token("zed")


# --- access follows the organisation --------------------------------------------------------

def test_access_follows_the_organisation_at_lookup_time(auth: Auth, orgs: OrgHolder) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    _, token = auth.create_token("ana")
    assert session is not None
    orgs.org = reorganised(orgs.org, access={"ana": "viewer"})
    session_who = auth.session_principal(session.cookie)
    token_who = auth.token_principal(token)
    assert session_who is not None and session_who.access == "viewer"
    assert token_who is not None and token_who.access == "viewer"


def test_a_person_removed_from_the_organisation_can_no_longer_authenticate(
        auth: Auth, orgs: OrgHolder) -> None:
    session = auth.login("ana", PASSWORD, ip="10.0.0.1")
    _, token = auth.create_token("ana")
    assert session is not None
    orgs.org = reorganised(orgs.org, drop="ana")
    assert auth.session_principal(session.cookie) is None
    assert auth.token_principal(token) is None
    assert auth.login("ana", PASSWORD, ip="10.0.0.2") is None


def test_a_plain_organisation_works_as_the_source_of_people(
        store: SqlStore, starter: Config) -> None:
    auth = Auth(AuthStore(store.engine), starter.org, hasher=cheap_hasher())
    auth.set_password("ben", PASSWORD)
    session = auth.login("ben", PASSWORD, ip=None)
    assert session is not None
    who = auth.session_principal(session.cookie)
    assert who is not None and who.access == starter.org.person["ben"].access


def test_a_clock_without_a_time_zone_is_refused(store: SqlStore, starter: Config) -> None:
    auth = Auth(AuthStore(store.engine, clock=lambda: datetime(2026, 3, 2)), starter.org,
                hasher=cheap_hasher())
    with pytest.raises(InputError, match="aware"):
        auth.create_token("ana")


# --- demo logins ----------------------------------------------------------------------------

def test_demo_logins_go_to_the_first_person_of_each_access_level(store: SqlStore) -> None:
    org = load_config(scenario_path("itops")).org
    auth = Auth(AuthStore(store.engine), org, hasher=cheap_hasher())
    seeded = seed_demo_logins(auth, org, password=PASSWORD)
    assert [access for _, access in seeded] == ["admin", "approver", "operator", "viewer"]
    for person, access in seeded:
        assert person == next(p.id for p in org.people if p.access == access)
        session = auth.login(person, PASSWORD, ip="127.0.0.1")
        assert session is not None
        who = auth.session_principal(session.cookie)
        assert who is not None and who.access == access
    assert auth.password_set() == {person for person, _ in seeded}
