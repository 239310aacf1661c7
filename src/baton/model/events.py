"""Events: one typed, timestamped fact from outside, with an idempotency key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from baton.errors import InputError
from baton.model import limits

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
    # An incident in another cell on a service this cell depends on (entity = that service).
    "incident.upstream": ("cell", "state"),
    # A person undid an action by hand; entity = its resource (attrs.decision names it).
    "action.reverted": ("by",),
    "baton.approve": ("escalation", "by"),
    "baton.reject": ("escalation", "by"),
    "baton.kill_switch": ("enabled",),
    "baton.objectives": ("by",),
    "baton.autonomy": ("class", "level", "by"),
    "baton.policy": ("op", "by"),
    "baton.tick": (),
}

#: Control events are commands to Baton itself, written to the log like any other event.
CONTROL_PREFIX = "baton."


#: the attribute that marks an event whose stored body could not be read back
UNREADABLE = "baton.unreadable"


class Event(BaseModel):
    """One fact from outside: typed, timestamped, about one entity, with an idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=limits.STORE_KEY)
    type: str = Field(min_length=1, max_length=limits.STORE_TYPE)
    entity: str = Field(min_length=1, max_length=limits.STORE_ENTITY)
    time: datetime
    attrs: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="", max_length=limits.MAX_SOURCE)

    @classmethod
    def from_stored(cls, body: str | bytes, *, key: str = "?", type: str = "?",
                    entity: str = "?", time: str = "1970-01-01T00:00:00+00:00") -> Event:
        """An event read back from the log. It was checked when it was accepted, so only
        its shape is rebuilt; a body that cannot be read becomes an event marked
        UNREADABLE (the engine sets it aside as a dead letter instead of halting)."""
        try:
            d = orjson.loads(body)
            return cls.model_construct(
                key=d["key"], type=d["type"], entity=d["entity"],
                time=datetime.fromisoformat(d["time"]).astimezone(UTC),
                attrs=d.get("attrs") or {}, source=d.get("source", ""))
        except Exception as exc:  # a row written by hand, or by an older Baton
            return cls.model_construct(
                key=key, type=type, entity=entity,
                time=datetime.fromisoformat(time).astimezone(UTC),
                attrs={UNREADABLE: f"{exc.__class__.__name__}: {str(exc)[:300]}"},
                source="")

    @field_validator("key", "type", "entity", "source")
    @classmethod
    def _storable_text(cls, value: str) -> str:
        problem = limits.text_problem(value)
        if problem:
            raise PydanticCustomError("text", "{problem}", {"problem": problem})
        return value

    @field_validator("time")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        problem = limits.time_problem(value)
        if problem:
            raise PydanticCustomError("time", "{problem}", {"problem": problem})
        return value.astimezone(UTC)

    @field_validator("attrs")
    @classmethod
    def _processable(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = limits.data_problem(value, "attrs")
        if problem:
            raise PydanticCustomError("attrs", "{problem}", {"problem": problem})
        return value

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
    """Parse one event from JSON text or a dict; errors name `where` and the bad field.

    JSON text is read strictly and the attributes are held to the input limits
    (baton.model.limits), so an event parsed here can be stored and processed."""
    data: Any = limits.loads(raw, where) if isinstance(raw, str) else raw
    if not isinstance(data, dict):
        raise InputError(f"{where}: an event must be a JSON object, got {type(data).__name__}")
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        raise InputError(invalid(exc, where)) from None
    limits.check_event(event, where)
    check_type(event, known, where)
    return event


#: error types of Event's own rules, whose messages read after the field's name
_OWN_RULES = ("text", "time")


def invalid(exc: ValidationError, where: str, names: dict[str, str] | None = None) -> str:
    """The message for an event that failed validation: `where`, the field, the problem.

    `names` renames Event's fields to what the sender called them (entity -> subject)."""
    first = exc.errors()[0]
    path = [str(p) for p in first["loc"]]
    if path and names:
        path[0] = names.get(path[0], path[0])
    loc = ".".join(path) or "event"
    if first["type"] == "attrs":  # the message names the nested field itself
        problem = str(first["msg"])
        if names and "attrs" in names:
            problem = problem.replace("'attrs", f"'{names['attrs']}", 1)
        return f"{where}: {problem}"
    if first["type"] in _OWN_RULES:
        return f"{where}: field {loc!r} {first['msg']}"
    return f"{where}: field {loc!r}: {first['msg']}"
