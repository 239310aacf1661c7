"""Who is at the dashboard now, and which escalations they have in front of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from baton.escalation.rules import paged, refusal
from baton.model import Escalation
from baton.org.model import Organisation

#: a person counts as present this long after their last page view or stream ping
PRESENT_SECONDS = 60.0


class Presence:
    """Signed-in people seen lately (real time), and the escalations each has open."""

    def __init__(self, *, window: float = PRESENT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._open: dict[str, set[str]] = {}

    def seen(self, person: str) -> None:
        """Note that `person` is looking at the dashboard now."""
        with self._lock:
            self._seen[person] = self.clock()

    def showing(self, person: str, escalations: list[str]) -> None:
        """Note the escalations `person` has on screen and may answer (their inbox)."""
        with self._lock:
            self._seen[person] = self.clock()
            self._open[person] = set(escalations)

    def left(self, person: str) -> None:
        """The person signed out."""
        with self._lock:
            self._seen.pop(person, None)
            self._open.pop(person, None)

    def present(self) -> list[str]:
        """People seen within the window, by id."""
        now = self.clock()
        with self._lock:
            return sorted(p for p, at in self._seen.items() if now - at <= self.window)

    def held(self, org: Organisation, escalations: list[Escalation], at: datetime) -> set[str]:
        """Ids of open escalations a present person may answer and has open or was paged for."""
        people = self.present()
        with self._lock:
            shown = {p: set(self._open.get(p, ())) for p in people}
        out: set[str] = set()
        for esc in escalations:
            asked = set(paged(esc, at))
            for person in people:
                if ((person in asked or esc.id in shown[person])
                        and refusal(org, esc, person, at=at) is None):
                    out.add(esc.id)
                    break
        return out
