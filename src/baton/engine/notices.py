"""Which teams a joint plan tells, sized to the blast radius and digested per window.

A team owning services that depend on an incident's root is told when one of them is
within `notify_hops` dependency hops of the root, is of tier `notify_tier` or more
critical, or is itself degraded or down now. Farther teams are listed in the plan (they
can read it on the status page) but not messaged: an outage deep in a large organisation
would otherwise message most of it. A team told within the last `digest_minutes` is not
messaged again: the new plan joins that notice's digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton.config import Coordination
from baton.engine.picture import Picture
from baton.org.graph import ServiceGraph
from baton.org.model import Organisation


@dataclass
class NoticeChoice:
    """One plan's notices: who gets one now (and why), who joins a digest, who is beyond."""

    send: list[tuple[str, list[str], str]] = field(default_factory=list)
    digested: dict[str, str] = field(default_factory=dict)  # team -> the notice it joins
    beyond: list[str] = field(default_factory=list)


def within_hops(graph: ServiceGraph, root: str, hops: int) -> set[str]:
    """The services that depend on `root` through at most `hops` dependency edges."""
    if root not in graph.graph:
        return set()
    seen: set[str] = set()
    frontier = [root]
    for _ in range(hops):
        nxt = []
        for sid in frontier:
            for dependent in graph.graph.predecessors(sid):
                if dependent not in seen:
                    seen.add(dependent)
                    nxt.append(dependent)
        frontier = nxt
    seen.discard(root)
    return seen


def _reason(services: list[str], near: set[str], org: Organisation, picture: Picture,
            settings: Coordination) -> str | None:
    if any(s in near for s in services):
        return f"depends on the root within {settings.notify_hops} hop(s)"
    known = org.service
    if any(s in known and known[s].tier <= settings.notify_tier for s in services):
        return f"has a tier-{settings.notify_tier} service that depends on the root"
    state = picture.services
    if any(s in state and state[s].status != "up" for s in services):
        return "its own services are degraded"
    return None


def choose_notices(*, root: str, by_team: dict[str, list[str]], graph: ServiceGraph,
                   org: Organisation, picture: Picture, settings: Coordination,
                   noticed: dict[str, tuple[datetime, str]], now: datetime,
                   notice_id: str) -> NoticeChoice:
    """Decide the notices of one plan; records the ones sent in `noticed` (team -> when)."""
    near = within_hops(graph, root, settings.notify_hops)
    window = timedelta(minutes=settings.digest_minutes)
    out = NoticeChoice()
    for team in sorted(by_team):
        services = by_team[team]
        reason = _reason(services, near, org, picture, settings)
        if reason is None:
            out.beyond.append(team)
            continue
        last = noticed.get(team)
        if last is not None and now - last[0] < window:
            out.digested[team] = last[1]
            continue
        noticed[team] = (now, f"{notice_id}/{team}")
        out.send.append((team, services, reason))
    return out
