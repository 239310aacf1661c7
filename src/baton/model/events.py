"""Events: one typed, timestamped fact from outside, with an idempotency key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton.errors import InputError

#: Event types Baton understands out of the box, with the attributes each must carry.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "alert": ("metric", "value"),
    "metric": ("metric", "value"),
    "service.down": (),
    "service.recovered": (),
    "deploy": ("version",),
    "ticket.opened": ("priority",),
    "ticket.resolved": (),
    "cost.sample": ("cost_per_hour",),
    "access.grant": ("grantee", "level"),
    "credential.leak": ("grantee",),
    "cert.expiry": ("days_left",),
    # A target reports later how an action it accepted ended; entity = its idempotency key.
    "action.result": ("ok",),
    "baton.approve": ("escalation", "by"),
    "baton.reject": ("escalation", "by"),
    "baton.kill_switch": ("enabled",),
    "baton.objectives": ("by",),
    "baton.tick": (),
}

#: Control events are commands to Baton itself, written to the log like any other event.
CONTROL_PREFIX = "baton."


class Event(BaseModel):
    """One fact from outside: typed, timestamped, about one entity, with an idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)
    entity: str = Field(min_length=1, max_length=200)
    time: datetime
    attrs: dict[str, Any] = Field(default_factory=dict)
    source: str = ""

    @field_validator("time")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (e.g. 2026-01-01T00:00:00Z)")
        return value.astimezone(UTC)

    @property
    def is_control(self) -> bool:
        """True for commands to Baton itself (approvals, kill switch)."""
        return self.type.startswith(CONTROL_PREFIX)

    def to_json(self) -> str:
        """Canonical JSON of this event."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()


def check_type(event: Event, known: dict[str, tuple[str, ...]], where: str) -> None:
    """Raise InputError naming the problem if the event's type or attributes are unknown."""
    required = known.get(event.type)
    if required is None:
        raise InputError(f"{where}: unknown event type {event.type!r} "
                         f"(known: {', '.join(sorted(known))})")
    missing = [name for name in required if name not in event.attrs]
    if missing:
        raise InputError(f"{where}: event {event.key!r} of type {event.type!r} "
                         f"is missing attrs.{', attrs.'.join(missing)}")


def parse_event(raw: str | dict[str, Any], where: str,
                known: dict[str, tuple[str, ...]] = EVENT_TYPES) -> Event:
    """Parse one event from JSON text or a dict; errors name `where` and the bad field."""
    data: Any = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{where}: an event must be a JSON object, got {type(data).__name__}")
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "event"
        raise InputError(f"{where}: field {loc!r}: {first['msg']}") from exc
    check_type(event, known, where)
    return event
