"""The one clock everything time-based reads: wall time live, virtual time in replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the time. The engine never reads time any other way."""

    def now(self) -> datetime:
        """The current time, time-zone aware, in UTC."""
        ...


class WallClock:
    """Real time, for live operation."""

    def now(self) -> datetime:
        """The machine's current UTC time."""
        return datetime.now(UTC)


class VirtualClock:
    """Time that moves only when told to: replay, backtests and simulation."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs a time-zone aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The virtual time."""
        return self._now

    def advance_to(self, at: datetime) -> None:
        """Move forward to `at`; the clock never runs backwards."""
        if at > self._now:
            self._now = at.astimezone(UTC)
