"""Times on the pages: always with the day and the zone, never a bare HH:MM."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup


def when(value: Any, *, seconds: bool = False) -> Markup:
    """'Mon 02 Mar 01:29 UTC' for a datetime or an ISO 8601 text, in a <time> element the
    page script shows in the viewer's own zone when they chose local time; '—' for nothing."""
    if value is None or value == "":
        return Markup("—")
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    text = at.strftime("%a %d %b %H:%M:%S UTC" if seconds else "%a %d %b %H:%M UTC")
    return Markup('<time datetime="{}"{}>{}</time>').format(
        at.isoformat().replace("+00:00", "Z"), Markup(" data-seconds") if seconds else "", text)


def millis(value: float) -> str:
    """A latency in ms, short: one decimal below 10, whole numbers above."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"
