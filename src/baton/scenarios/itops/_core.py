"""The world's clock and agenda, event output, and how failures spread and heal."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from baton.model import Event
from baton.org.model import Organisation
from baton.scenarios.itops._state import Grant, Svc, Ticket, build_services, hops_from

SOURCE = "itops-world"
MINUTE = timedelta(minutes=1)
ALERT_EVERY = timedelta(minutes=5)
CRASH_CAUSES = ("process crashed", "out of memory", "liveness probe failed",
                "disk full", "segmentation fault")


def stamp(at: datetime) -> str:
    """A compact timestamp for event keys."""
    return at.strftime("%Y%m%dT%H%M%S")


class WorldCore:
    """The agenda of timed happenings, the output buffer, and the health of services."""

    def __init__(self, org: Organisation, *, seed: int, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        self.org = org
        self.seed = seed
        self.start = start
        self.svc: dict[str, Svc] = build_services(org, seed, start)
        self.reverse: dict[str, list[str]] = {s.id: [] for s in org.services}
        for s in org.services:
            for dep in s.dependencies:
                self.reverse[dep].append(s.id)
        self.tickets: dict[str, Ticket] = {}
        self.grants: dict[str, Grant] = {}
        self.processed = start  # everything up to here has happened
        self._agenda: list[tuple[datetime, int, str, str]] = []
        self._seq = 0
        self._out: list[Event] = []
        self._keys: set[str] = set()
        self._streams: dict[str, random.Random] = {}
        self._handlers: dict[str, Callable[[datetime, str], None]] = {
            "alert": self._on_alert, "hit": self._on_hit, "recover": self._on_recover,
            "crash": self._on_crash,
        }

    # --- agenda and output -------------------------------------------------------------

    def rng(self, stream: str) -> random.Random:
        """A named random stream derived from the seed, so streams never disturb each other."""
        found = self._streams.get(stream)
        if found is None:
            found = self._streams[stream] = random.Random(f"{self.seed}:{stream}")
        return found

    def at(self, when: datetime, tag: str, arg: str = "") -> None:
        """Schedule a happening; never before what has already happened."""
        when = max(when, self.processed + timedelta(seconds=1)).replace(microsecond=0)
        self._seq += 1
        heapq.heappush(self._agenda, (when, self._seq, tag, arg))

    def advance(self, until: datetime) -> None:
        """Let every happening up to `until` take place."""
        while self._agenda and self._agenda[0][0] <= until:
            when, _, tag, arg = heapq.heappop(self._agenda)
            self._handlers[tag](when, arg)
        self.processed = max(self.processed, until)

    def emit(self, type_: str, entity: str, when: datetime, key: str, **attrs: Any) -> None:
        """Add one event to the output, with a key unique in this world."""
        unique, n = key, 1
        while unique in self._keys:
            n += 1
            unique = f"{key}:{n}"
        self._keys.add(unique)
        self._out.append(Event(key=unique, type=type_, entity=entity, time=when, attrs=attrs,
                               source=SOURCE))

    def take(self, until: datetime) -> list[Event]:
        """Remove and return the buffered events up to `until`, by time then key."""
        ready = [e for e in self._out if e.time <= until]
        self._out = [e for e in self._out if e.time > until]
        return sorted(ready, key=lambda e: (e.time, e.key))

    # --- failure, cascade, recovery ----------------------------------------------------

    def start_alerting(self, sid: str, when: datetime) -> None:
        """Make sure the service's error-rate alert repeats while it is unhealthy."""
        svc = self.svc[sid]
        if not svc.alerting:
            svc.alerting = True
            self.at(when, "alert", sid)

    def _on_alert(self, when: datetime, sid: str) -> None:
        svc = self.svc[sid]
        if svc.healthy:
            svc.alerting = False
            return
        noise = self.rng(f"alert:{sid}").uniform(0.85, 1.15)
        value = 1.0 if svc.down else round(max(0.06, svc.error_rate() * noise), 3)
        self.emit("alert", sid, when, f"alert:{sid}:error_rate:{stamp(when)}",
                  metric="error_rate", value=value,
                  severity="critical" if value >= 0.5 else "warning")
        self.at(when + ALERT_EVERY, "alert", sid)

    def _on_crash(self, when: datetime, arg: str) -> None:
        sid, _, cause = arg.partition("|")  # injected failures carry their own cause
        self.crash(when, sid, cause or self.rng("causes").choice(CRASH_CAUSES))

    def crash(self, when: datetime, sid: str, cause: str) -> None:
        """The service crashes: it reports down, alerts, and its dependents start failing."""
        svc = self.svc[sid]
        if svc.down:
            return
        svc.crashes += 1
        svc.down_since = when
        self.emit("service.down", sid, when, f"service.down:{sid}:{stamp(when)}",
                  cause=cause, tier=svc.tier, team=svc.team)
        self.start_alerting(sid, when + MINUTE)
        rng = random.Random(f"{self.seed}:cascade:{sid}:{svc.crashes}")
        hops = hops_from(self.reverse, sid)
        for dep in sorted(hops):
            delay = timedelta(seconds=round(hops[dep] * rng.uniform(40, 120) + rng.uniform(0, 60)))
            self.at(when + delay, "hit", f"{dep}|{sid}|{svc.crashes}|{hops[dep]}")
        facing = sorted(d for d in [sid, *hops] if self.svc[d].customer_facing)
        for cf in rng.sample(facing, min(3, len(facing))):
            self.at(when + timedelta(minutes=rng.uniform(5, 25)), "incident_ticket",
                    f"{cf}|{sid}")

    def _on_hit(self, when: datetime, arg: str) -> None:
        dep, root, crashes, hops = arg.split("|")
        upstream = self.svc[root]
        if not upstream.down or upstream.crashes != int(crashes):
            return  # the upstream came back before the failure reached this far
        self.svc[dep].impaired[root] = 0.05 + 0.5 / (1 + int(hops))
        self.start_alerting(dep, when)

    def _on_recover(self, when: datetime, arg: str) -> None:
        sid, crashes = arg.split("|")
        svc = self.svc[sid]
        if svc.down_since is None or svc.crashes != int(crashes):
            return
        downtime = (when - svc.down_since).total_seconds() / 60
        svc.down_since = None
        svc.restarting = False
        self.emit("service.recovered", sid, when, f"service.recovered:{sid}:{stamp(when)}",
                  downtime_minutes=round(downtime, 1), version=svc.version_text)
        for dep in hops_from(self.reverse, sid):
            self.svc[dep].impaired.pop(sid, None)
