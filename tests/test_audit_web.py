"""The dashboard's audit page: checkpoints, the last verification and what it covered,
and a proof to download for each decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from baton.config import Config
from baton.ledger import checkpoints, proofs, signing
from baton.store import schema as t
from baton.store.sql import SqlStore
from test_web_session import csrf_of, login
from web_support import PASSWORD, Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "web.db") as server:
        with server.client("operator") as api:
            r = api.post("/api/events", json={
                "specversion": "1.0", "id": "1", "source": "t", "type": "service.down",
                "subject": "db", "time": "2026-03-02T10:00:00Z", "data": {}})
            assert r.status_code < 300, r.text
        yield server


def first_decision(live: Live) -> str:
    return str(live.host.store.decisions(limit=50)[-1]["id"])


def test_a_decision_offers_a_proof_that_checks_with_the_published_key(live: Live) -> None:
    decision = first_decision(live)
    with live.client("viewer") as c:
        assert f'href="/decisions/{decision}/proof"' in c.get(f"/decisions/{decision}").text
        r = c.get(f"/decisions/{decision}/proof")
        assert r.status_code == 200
        assert "attachment" in r.headers["content-disposition"]
        key = c.get("/audit/public-key")
        assert key.status_code == 200 and key.text.startswith("-----BEGIN PUBLIC KEY-----")
    public = signing.load_public_text(key.text)
    bundle = r.json()
    assert bundle["record"]["record_id"] == decision
    assert proofs.check(bundle, public) == ""


def test_the_proof_of_an_unknown_decision_is_a_404(live: Live) -> None:
    with live.client("viewer") as c:
        r = c.get("/decisions/D-nope/proof")
    assert r.status_code == 404 and "D-nope" in r.text


def test_the_audit_page_lists_checkpoints_and_the_last_verification(live: Live) -> None:
    decision = first_decision(live)
    with live.client("viewer") as c:
        c.get(f"/decisions/{decision}/proof")  # the first proof signs a checkpoint
        page = c.get("/audit").text
    assert "The ledger is intact" in page and "No verification has run yet" in page
    ((cp, _, _),) = checkpoints.stored(live.host.store)
    assert cp.root[:16] in page and cp.key_id in page

    with httpx.Client(base_url=live.url) as c:
        login(c, "ola", PASSWORD)  # an operator may run a verification
        r = c.post("/audit/verify", data={"csrf": csrf_of(c.get("/audit").text)})
        assert r.status_code == 303
        page = c.get("/audit").text
    assert "nothing contradicts the ledger" in page
    assert "decisions" in page and "escalations" in page and "checkpoints" in page


def test_a_verification_from_the_page_names_an_edited_decision(live: Live) -> None:
    decision = first_decision(live)
    store = live.host.store
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        conn.execute(update(t.decisions).where(t.decisions.c.id == decision)
                     .values(decided_by="someone-else"))
    with httpx.Client(base_url=live.url) as c:
        login(c, "ola", PASSWORD)
        c.post("/audit/verify", data={"csrf": csrf_of(c.get("/audit").text)})
        page = c.get("/audit").text
    assert f"decisions {decision}: decided_by is &#39;someone-else&#39;" in page


def test_a_viewer_sees_no_verify_button_and_may_not_post_it(live: Live) -> None:
    with httpx.Client(base_url=live.url) as c:
        login(c, "vic", PASSWORD)
        page = c.get("/audit").text
        assert 'action="/audit/verify"' not in page
    with live.client("viewer") as c:
        assert c.post("/audit/verify").status_code == 403
