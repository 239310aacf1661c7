"""The HTTP API against a real server: ingest, read, act; errors are JSON 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.config import Config
from web_support import Live, live_server

NOW = datetime.now(UTC).replace(microsecond=0)


def ce(i: str, type_: str, subject: str, minutes_ago: float = 1, **data: Any) -> dict[str, Any]:
    """A CloudEvent dict."""
    at = NOW - timedelta(minutes=minutes_ago)
    return {"specversion": "1.0", "id": i, "source": "test", "type": type_,
            "subject": subject, "time": at.isoformat().replace("+00:00", "Z"), "data": data}


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "api.db") as server:
        yield server


def test_probes_answer_without_signing_in(live: Live) -> None:
    with live.client() as c:
        assert c.get("/healthz").json() == {"ok": True}
        assert c.get("/readyz").json()["ready"] is True
        assert c.get("/openapi.json").json()["info"]["title"] == "Baton"


def test_a_cloudevent_is_accepted_decided_and_readable(live: Live) -> None:
    with live.client("operator") as c:
        r = c.post("/api/events", json=ce("1", "service.down", "db"))
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": 1, "duplicates": 0, "keys": ["test:1"]}
        again = c.post("/api/events", json=ce("1", "service.down", "db"))
        assert again.json()["duplicates"] == 1
    with live.client("viewer") as c:
        every = c.get("/api/decisions").json()["items"]
        items = [d for d in every
                 if d["situation_kind"] != "assignment" and d["outcome"] != "plan updated"]
        # the restart, then the joint plan that tells finops (owner of a dependent) once;
        # the plan is recorded again as each of its steps' results comes back
        assert [d["outcome"] for d in items] == ["planned", "executed"]
        assert sum(d["outcome"] == "plan updated" for d in every) == 2
        plan = c.get(f"/api/decisions/{items[0]['id']}").json()
        assert [s["action"] for s in plan["plan"]["steps"]] == ["restart", "notify_team"]
        # a later record shows the steps that changed, and the whole plan as of it
        update = next(d for d in every if d["outcome"] == "plan updated")
        later = c.get(f"/api/decisions/{update['id']}").json()
        assert len(later["plan"]["steps"]) == 1 and later["plan"]["whole"] is False
        assert [s["action"] for s in later["plan_as_of"]["steps"]] == ["restart", "notify_team"]
        assert "executed" in {s["status"] for s in later["plan_as_of"]["steps"]}
        one = c.get(f"/api/decisions/{items[1]['id']}").json()
        assert one["explanation"]["policies"][0]["id"] == "restart-below-tier0"
        assert one["hash"] and one["explanation"]["lines"]
    assert [(r.action.kind, r.action.resource) for r in live.world.requests] == [
        ("restart", "db"), ("notify_team", "finops")]


def test_a_batch_with_one_bad_event_accepts_none(live: Live) -> None:
    with live.client("operator") as c:
        r = c.post("/api/events", json=[ce("a", "service.down", "db"),
                                         ce("b", "service.exploded", "db")],
                   headers={"content-type": "application/cloudevents-batch+json"})
        assert r.status_code == 422
        assert "unknown event type 'service.exploded'" in r.json()["error"]
        r = c.post("/api/events", json=[ce("c", "alert", "worker")])
        assert r.status_code == 422 and "attrs.metric" in r.json()["error"]
        r = c.post("/api/events", content=b"{not json", headers={
            "content-type": "application/json"})
        assert r.status_code == 422 and "error" in r.json()
    assert live.host.store.counts()["events"] == 0


def test_a_batch_of_cloudevents_is_accepted_together(live: Live) -> None:
    with live.client("operator") as c:
        r = c.post("/api/events", json=[
            ce("x", "alert", "worker", metric="cpu_util", value=0.97),
            ce("y", "service.down", "reports")],
            headers={"content-type": "application/cloudevents-batch+json"})
        assert r.status_code == 202 and r.json()["accepted"] == 2


def test_an_alertmanager_webhook_becomes_alert_events(live: Live) -> None:
    at = (NOW - timedelta(minutes=1)).isoformat()
    payload = {"version": "4", "status": "firing", "receiver": "baton", "groupKey": "g",
               "alerts": [{"status": "firing", "startsAt": at, "fingerprint": "f1",
                           "labels": {"alertname": "CpuHigh", "service": "worker",
                                      "metric": "cpu_util"},
                           "annotations": {"value": "0.96"}}]}
    with live.client("operator") as c:
        r = c.post("/api/alertmanager", json=payload)
        assert r.status_code == 202, r.text
        assert r.json()["accepted"] == 1
        bad = dict(payload, version="3")
        assert c.post("/api/alertmanager", json=bad).status_code == 422
    with live.client("viewer") as c:
        (d,) = c.get("/api/decisions").json()["items"]
        assert d["situation_kind"] == "saturation" and d["entity"] == "worker"


def test_decisions_filter_and_paginate(live: Live) -> None:
    with live.client("operator") as c:
        c.post("/api/events", json=[ce("1", "service.down", "db", 150),
                                    ce("2", "service.down", "api", 1)])  # 2 h apart
    with live.client("viewer") as c:
        page = c.get("/api/decisions", params={"limit": 1}).json()
        assert page["count"] == 1
        second = c.get("/api/decisions", params={"limit": 1, "offset": 1}).json()
        assert second["items"][0]["id"] != page["items"][0]["id"]
        approvals = c.get("/api/decisions", params={"verdict": "approval"}).json()["items"]
        assert {d["entity"] for d in approvals} == {"api"}
        assert c.get("/api/decisions", params={"limit": 0}).status_code == 422
        r = c.get("/api/decisions/D-9999999")
        assert r.status_code == 404 and "D-9999999" in r.json()["error"]


def _open_escalation(live: Live) -> str:
    with live.client("operator") as c:
        c.post("/api/events", json=ce("down-api", "service.down", "api"))
    with live.client("viewer") as c:
        (esc,) = c.get("/api/escalations", params={"status": "open"}).json()["items"]
    return str(esc["id"])


def test_an_approver_approves_and_the_action_runs(live: Live) -> None:
    esc = _open_escalation(live)
    with live.client("admin") as c:  # admins may answer whoever is paged (follow the sun)
        r = c.post(f"/api/escalations/{esc}/approve", json={"comment": "go"})
        assert r.status_code == 200, r.text
        assert r.json()["outcome"].startswith("approved") and r.json()["decided_by"] == "ana"
        again = c.post(f"/api/escalations/{esc}/approve", json={})
        assert again.status_code == 409 and "already approved" in again.json()["error"]
    assert [r.action.resource for r in live.world.requests] == ["api"]


def test_a_rejection_runs_nothing(live: Live) -> None:
    esc = _open_escalation(live)
    with live.client("admin") as c:
        r = c.post(f"/api/escalations/{esc}/reject", json={"comment": "not now"})
        assert r.status_code == 200 and r.json()["outcome"] == "rejected"
    assert live.world.requests == []


def test_a_viewer_cannot_approve_and_changes_nothing(live: Live) -> None:
    esc = _open_escalation(live)
    head = live.host.store.ledger_head()
    with live.client("viewer") as c:
        r = c.post(f"/api/escalations/{esc}/approve", json={})
        assert r.status_code == 403 and "viewer" in r.json()["error"]
    with live.client() as c:
        assert c.post(f"/api/escalations/{esc}/approve", json={}).status_code == 401
    assert live.host.store.ledger_head() == head and live.world.requests == []


def test_the_kill_switch_is_for_admins_and_escalates_autonomous_verdicts(live: Live) -> None:
    with live.client("approver") as c:
        assert c.post("/api/kill-switch", json={"enabled": True}).status_code == 403
    with live.client("admin") as c:
        r = c.post("/api/kill-switch", json={"enabled": True, "comment": "drill"})
        assert r.status_code == 200 and r.json() == {"global": True, "domains": []}
        assert c.get("/api/kill-switch").json()["global"] is True
        assert c.post("/api/kill-switch", json={"enabled": True, "domain": "nope"}
                      ).status_code == 422
        c.post("/api/events", json=ce("d", "service.down", "db"))
        (d,) = [x for x in c.get("/api/decisions").json()["items"]
                if x["situation_kind"] == "service_down"]
        assert d["outcome"] == "escalated" and d["verdict"]["capped_by"] == "kill-switch:global"
    assert live.world.requests == []


def test_objectives_are_read_by_anyone_and_changed_by_admins_only(live: Live) -> None:
    with live.client("viewer") as c:
        assert c.get("/api/objectives").json() == {"speed": 1.0, "cost": 1.0, "risk": 1.0,
                                                   "customer_impact": 1.0}
    head = live.host.store.ledger_head()
    with live.client("approver") as c:
        assert c.put("/api/objectives", json={"cost": 3}).status_code == 403
    with live.client("admin") as c:
        bad = c.put("/api/objectives", json={"cost": -1})
        assert bad.status_code == 422 and "cost" in bad.text
        assert c.put("/api/objectives", json={}).status_code == 422
        assert live.host.store.ledger_head() == head  # refused: nothing recorded
        r = c.put("/api/objectives", json={"cost": 3, "comment": "quarter end"})
        assert r.status_code == 200, r.text
        assert r.json() == {"speed": 1.0, "cost": 3.0, "risk": 1.0, "customer_impact": 1.0}
        (d,) = [x for x in c.get("/api/decisions").json()["items"]
                if x["situation_kind"] == "objectives"]
        assert d["outcome"] == "objectives changed" and d["decided_by"] == "ana"
    assert live.host.engine.objectives.cost == 3.0


def test_the_shared_picture_shows_what_is_not_up_and_the_running_plans(live: Live) -> None:
    with live.client("operator") as c:
        c.post("/api/events", json=ce("p1", "service.down", "db"))
    with live.client("viewer") as c:
        pic = c.get("/api/picture").json()
    assert pic["services"]["not_up"] >= 1
    assert {"id": "db", "status": "down"}.items() <= pic["services"]["list"][0].items()
    assert [p["root"] for p in pic["plans"]] == ["db"]
    assert pic["budgets"]["reliability"]["daily"] == 500


def test_a_policy_dry_run_gives_the_verdict_and_writes_nothing(live: Live) -> None:
    head = live.host.store.ledger_head()
    with live.client("operator") as c:
        r = c.post("/api/policies/check", json={"action": "restart", "resource": "api",
                                                "domain": "reliability"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verdict"]["kind"] == "approval" and body["executed"] is False
        assert [p["id"] for p in body["policies"]] == ["restart-tier0-oncall"]
        denied = c.post("/api/policies/check", json={"action": "delete_data",
                                                     "resource": "db", "domain": "cost"})
        assert denied.json()["verdict"]["kind"] == "denied"
        assert c.post("/api/policies/check", json={"action": "x", "resource": "db",
                                                   "domain": "nope"}).status_code == 422
    assert live.host.store.ledger_head() == head and live.world.requests == []


def test_prometheus_metrics_count_decisions_by_verdict(live: Live) -> None:
    with live.client("operator") as c:
        c.post("/api/events", json=[ce("1", "service.down", "db", 150),
                                    ce("2", "service.down", "api", 1)])  # 2 h apart
    with live.client() as c:
        text = c.get("/metrics").text
    assert 'baton_decisions_total{domain="reliability",outcome="executed",' \
           'verdict="autonomous"} 1.0' in text
    assert "baton_escalations_open 1.0" in text
    assert "baton_decision_engine_milliseconds_bucket" in text
    assert 'baton_budget_daily{domain="reliability"} 500.0' in text


def test_organisation_audit_policies_and_me(live: Live) -> None:
    with live.client("viewer") as c:
        org = c.get("/api/organisation").json()
        assert {p["id"] for p in org["people"]} >= {"ana", "raj", "vic"}
        assert all("local_time" in p and "working" in p for p in org["people"])
        assert c.get("/api/audit").json()["ok"] is True
        assert len(c.get("/api/policies").json()["items"]) == 9
        assert c.get("/api/me").json() == {"person": "vic", "name": "vic", "access": "viewer",
                                           "via": "token"}
        assert c.get("/api/work-items").json()["count"] == 0
        summary = c.get("/api/metrics").json()
        assert {"decisions", "verdicts", "ledger_head"} <= summary.keys()


CAP = """
@id("scale-out-never-huge") @reason("more than 100 units of capacity needs a change request")
forbid (principal, action == Action::"scale_out", resource) when { context.amount > 100 };
"""


@pytest.fixture
def tight(starter: Config, tmp_path: Path) -> Iterator[Live]:
    """The starter organisation with a reliability budget too small for one scale-out."""
    from helpers import with_budget, with_policies

    text = "\n".join(body for name, body in starter.policies) + CAP
    config = with_budget(with_policies(starter, text), "reliability", 40)
    with live_server(config, tmp_path / "tight.db") as server:
        yield server


def _scale_out_escalation(live: Live) -> dict[str, Any]:
    with live.client("operator") as c:
        c.post("/api/events", json=ce("cpu", "alert", "worker", metric="cpu_util", value=0.97))
    with live.client("viewer") as c:
        (esc,) = c.get("/api/escalations", params={"status": "open"}).json()["items"]
    assert esc["action"]["kind"] == "scale_out" and esc["action"]["amount"] == 50
    return dict(esc)


def test_approving_with_changes_within_policy_runs_the_changed_action(tight: Live) -> None:
    esc = _scale_out_escalation(tight)
    with tight.client("admin") as c:
        r = c.post(f"/api/escalations/{esc['id']}/modify",
                   json={"amount": 30, "params": {"replicas": 2}, "comment": "smaller"})
        assert r.status_code == 200, r.text
        record = r.json()
        assert record["modification"]["modified"]["amount"] == 30
    (request,) = tight.world.requests
    assert request.action.amount == 30 and request.action.params == {"replicas": 2}


def test_approving_with_changes_outside_policy_is_refused_and_runs_nothing(tight: Live) -> None:
    esc = _scale_out_escalation(tight)
    head = tight.host.store.ledger_head()
    with tight.client("admin") as c:
        r = c.post(f"/api/escalations/{esc['id']}/modify", json={"amount": 500})
        assert r.status_code == 409, r.text
        assert "scale-out-never-huge" in r.json()["error"]
        assert c.post(f"/api/escalations/{esc['id']}/modify", json={}).status_code == 422
        still = c.get(f"/api/escalations/{esc['id']}").json()
    assert still["status"] == "open"
    assert tight.world.requests == [] and tight.host.store.ledger_head() == head


def test_control_events_cannot_be_forged_through_ingest(live: Live) -> None:
    esc = _open_escalation(live)
    head = live.host.store.ledger_head()
    with live.client("operator") as c:
        forged = ce("x", "baton.approve", esc, escalation=esc, by="ana")
        r = c.post("/api/events", json=forged)
        assert r.status_code == 422 and "baton." in r.json()["error"]
        r = c.post("/api/events", json=ce("k", "baton.kill_switch", "*", enabled=True))
        assert r.status_code == 422
    assert live.host.store.escalation(esc).status == "open"  # type: ignore[union-attr]
    assert live.host.store.ledger_head() == head


def test_an_event_from_the_future_is_refused(live: Live) -> None:
    with live.client("operator") as c:
        r = c.post("/api/events", json=ce("f", "service.down", "db", minutes_ago=-60 * 24))
        assert r.status_code == 422 and "ahead of the server's clock" in r.json()["error"]
    assert live.host.store.counts()["events"] == 0
