"""Plan notices are sized to the blast radius and digested per team per window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from baton.config import Config
from baton.execution.port import ActionRequest
from baton.org.model import Organisation
from helpers import ev
from test_coordination import TEAMS, hub_org, outage, run

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def notices(requests: list[ActionRequest]) -> list[str]:
    return [r.action.resource for r in requests if r.action.kind == "notify_team"]


def with_coordination(config: Config, **settings: object) -> Config:
    coordination = config.settings.coordination.model_copy(update=settings)
    return config.model_copy(update={"settings": config.settings.model_copy(
        update={"coordination": coordination})})


def test_a_team_further_away_is_told_when_its_own_service_is_down(
        starter: Config, tmp_path: Path) -> None:
    near = with_coordination(hub_org(starter), notify_hops=1)  # `reports` is two hops away
    _, world = run(near, tmp_path, outage(), name="quiet.db")
    assert notices(world.requests) == sorted(TEAMS)
    events = [ev("rep-down", "service.down", "reports", T0, -5), *outage()]
    _, world = run(near, tmp_path, events)
    assert "finops" in notices(world.requests)
    notice = next(r for r in world.requests if r.action.resource == "finops")
    assert notice.action.params["why"] == "its own services are degraded"


def test_more_hops_or_a_lower_tier_bar_widen_the_radius(starter: Config,
                                                        tmp_path: Path) -> None:
    for name, settings in (("hops", {"notify_hops": 2}),
                           ("tier", {"notify_hops": 1, "notify_tier": 3})):
        _, world = run(with_coordination(hub_org(starter), **settings), tmp_path,
                       outage(), name=f"{name}.db")
        assert sorted(notices(world.requests)) == sorted(["finops", *TEAMS]), name


def two_roots(starter: Config) -> Config:
    """The hub organisation where every dep-* also needs `cache` (owned by finops)."""
    base = hub_org(starter)
    data = base.org.model_dump()
    data["services"].append({"id": "cache", "tier": 2, "team": "finops", "dependencies": []})
    for s in data["services"]:
        if s["id"].startswith("dep-"):
            s["dependencies"] = ["db", "cache"]
    return base.model_copy(update={"org": Organisation.model_validate(data)})


def test_a_second_plan_within_the_window_joins_each_teams_digest_and_sends_nothing_new(
        starter: Config, tmp_path: Path) -> None:
    events = [ev("db-down", "service.down", "db", T0),
              ev("cache-down", "service.down", "cache", T0, 10),
              ev("cache-down-again", "service.down", "cache", T0, 90)]
    engine, world = run(with_coordination(two_roots(starter), correlation_minutes=5,
                                          notify_hops=1), tmp_path, events)
    # db at T0 tells the four teams; cache ten minutes later joins their digest; cache
    # again 90 minutes later, after the window, tells them again
    assert notices(world.requests) == sorted(TEAMS) * 2
    plans = sorted((d for d in engine.store.decisions(limit=1000)
                    if d["outcome"] == "planned"), key=lambda d: d["time"])
    sent = [p["plan"]["affected"]["notices"] for p in plans]
    assert [n["sent"] for n in sent] == [sorted(TEAMS), [], sorted(TEAMS)]
    first_ids = {f"{plans[0]['plan']['id']}/notify/{t}" for t in TEAMS}
    assert sorted(sent[1]["digested"]) == sorted(TEAMS)
    assert set(sent[1]["digested"].values()) == first_ids
