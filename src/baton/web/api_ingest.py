"""Ingest: CloudEvents (single and batch) and the Alertmanager webhook (version 4).

Everything accepted here can be stored and processed: bodies are read strictly and held
to the input limits of baton.model.limits before any event is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton.agents.roster import EVENT_TYPES as AGENT_EVENT_TYPES
from baton.errors import InputError
from baton.model import Event, limits
from baton.model.events import CONTROL_PREFIX, check_type, invalid
from baton.web.body import LimitedRequest, StrictJsonRoute, is_json
from baton.web.errors import declare
from baton.web.host import EngineHost
from baton.web.security import principal_of

#: CloudEvents context attributes as HTTP headers in binary content mode (the HTTP
#: protocol binding of CloudEvents 1.0: `ce-` prefix; the body is the event's data)
BINARY_PREFIX = "ce-"


def binary_event(headers: Mapping[str, str], data: Any) -> dict[str, Any]:
    """The structured form of a CloudEvent sent in binary content mode."""
    event: dict[str, Any] = {k[len(BINARY_PREFIX):]: v for k, v in headers.items()
                             if k.lower().startswith(BINARY_PREFIX)}
    if data is not None and not isinstance(data, dict):
        raise InputError("event 0: in binary mode the body is the event's data and must be "
                         "a JSON object")
    event["data"] = data or {}
    return event


class IngestRoute(StrictJsonRoute):
    """Refusals in a CloudEvents body name the event by its place in the batch; an event in
    binary content mode (ce-* headers) is read as the structured event it stands for."""

    def reshape(self, request: LimitedRequest, value: Any) -> Any:
        if not self.path.endswith("/events") or "ce-specversion" not in request.headers:
            return value
        kind = request.headers.get("content-type", "application/json")
        if value is None and request._limited and not is_json(kind):
            raise InputError(f"event 0: in binary mode the data must be JSON (content-type "
                             f"application/json), not {kind!r}")
        return binary_event(request.headers, value)

    def locate(self, path: limits.Path) -> str:
        if not path or not self.path.endswith("/events"):
            return super().locate(path)
        index, rest = (path[0], path[1:]) if isinstance(path[0], int) else (0, path)
        return f"event {index}: field {limits.field_path(rest)!r}" if rest else f"event {index}"


router = APIRouter(prefix="/api", tags=["ingest"], route_class=IngestRoute,
                   responses=declare(400, 401, 403, 413, 422))


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event (structured JSON mode, or binary mode read into this form).

    `subject` names the entity (else `data.entity`); without `time` it is the time the
    server received it."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(pattern=r"^1\.0$")
    id: str = Field(min_length=1, max_length=limits.MAX_ID)
    source: str = Field(min_length=1, max_length=limits.MAX_SOURCE)
    type: str = Field(min_length=1, max_length=limits.MAX_TYPE)
    subject: str | None = Field(default=None, min_length=1, max_length=limits.MAX_ENTITY)
    time: datetime | None = None
    datacontenttype: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Accepted(BaseModel):
    """What ingest did with the events it was sent."""

    accepted: int
    duplicates: int
    keys: list[str]


class AlertsAccepted(Accepted):
    """What ingest did with the alerts, and why some of them will make no decision."""

    notes: list[str] = Field(default_factory=list)


def _host(request: Request) -> EngineHost:
    host: EngineHost = request.app.state.host
    return host


#: how far ahead of the server's clock an event may be stamped (clock skew of sources)
MAX_AHEAD = timedelta(minutes=5)


def _accept(request: Request, events: list[Event]) -> Accepted:
    """Check and accept events; each carries its poster as `raised_by` (what the data says
    is replaced: separation of duties must know who really raised a request)."""
    host = _host(request)
    who = principal_of(request)
    if who is not None:
        events = [e.model_copy(update={"attrs": {**e.attrs, "raised_by": who.person}})
                  for e in events]
    limit = None if host.virtual_clock else host.now() + MAX_AHEAD
    for i, event in enumerate(events):
        check_type(event, host.engine.event_types, f"event {i}")
        if event.type in AGENT_EVENT_TYPES:
            raise InputError(f"event {i}: type {event.type!r} comes from outside agents only: "
                             "they send it with their own token to POST /api/proposals")
        if limit is not None and event.time > limit:
            raise InputError(f"event {i}: time {event.time.isoformat()} is more than 5 minutes "
                             "ahead of the server's clock; a future event would move the "
                             "engine's clock and expire every open escalation")
    fresh = host.submit(events)
    return Accepted(accepted=sum(fresh), duplicates=len(fresh) - sum(fresh),
                    keys=[e.key for e in events])


def _event(where: str, names: dict[str, str], **fields: Any) -> Event:
    """Build an event from checked input; anything still refused is the sender's error."""
    try:
        return Event(**fields)
    except ValidationError as exc:
        raise InputError(invalid(exc, where, names)) from None


def _time(value: datetime, where: str, field: str) -> None:
    problem = limits.time_problem(value)
    if problem:
        raise InputError(f"{where}: field {field!r} {problem}")


def _text(value: str, where: str, field: str, max_length: int) -> None:
    problem = limits.text_problem(value, max_length)
    if problem:
        raise InputError(f"{where}: field {field!r} {problem}")


#: what a CloudEvent calls the fields of the event made from it
CLOUDEVENT_NAMES = {"key": "id", "entity": "subject", "attrs": "data"}


def _from_cloudevent(ce: CloudEvent, where: str, now: datetime) -> Event:
    at = ce.time or now.replace(microsecond=0)
    _time(at, where, "time")
    entity = ce.subject or ce.data.get("entity")
    if not isinstance(entity, str) or not entity:
        raise InputError(f"{where}: Baton needs to know what the event is about: send "
                         "'subject' (or a text 'entity' in 'data')")
    if ce.type.startswith(CONTROL_PREFIX):
        raise InputError(f"{where}: {ce.type!r} is a command to Baton, not an event; answer "
                         "escalations at /api/escalations/{id}/... and use /api/kill-switch")
    limits.check_data(ce.data, where, "data")
    return _event(where, CLOUDEVENT_NAMES, key=f"{ce.source}:{ce.id}", type=ce.type,
                  entity=entity, time=at, attrs=dict(ce.data), source=ce.source)


@router.post("/events", status_code=202, response_model=Accepted,
             openapi_extra={"x-content-types": ["application/cloudevents+json",
                                                "application/cloudevents-batch+json"]})
def ingest_cloudevents(request: Request,
                       body: Annotated[CloudEvent | list[CloudEvent], Body()]) -> Accepted:
    """Accept one CloudEvent or a batch; all are checked first, a bad one accepts none.

    The idempotency key is `source:id`; `type` is a Baton event type, `subject` the
    entity, `data` the attributes. Durable before the response is sent.
    """
    batch = body if isinstance(body, list) else [body]
    if not batch:
        raise InputError("the batch is empty")
    if len(batch) > limits.MAX_BATCH:
        raise InputError(f"the batch has {len(batch)} events; at most {limits.MAX_BATCH} "
                         "are accepted in one request")
    host = _host(request)
    now = host.now()
    events = [_from_cloudevent(ce, f"event {i}", now) for i, ce in enumerate(batch)]
    return _accept(request, events)


class Alert(BaseModel):
    """One alert of an Alertmanager webhook notification."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(default="", max_length=100)


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    model_config = ConfigDict(extra="allow")

    version: str = Field(pattern="^4$")
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: str = ""
    groupKey: str = ""
    alerts: list[Alert] = Field(min_length=1, max_length=limits.MAX_BATCH)


ENTITY_LABELS = ("service", "job", "instance")


def _alert_key(alert: Alert, name: str, entity: str, where: str) -> str:
    fingerprint = alert.fingerprint or f"{name}:{entity}"
    key = f"am:{fingerprint}:{alert.startsAt.isoformat()}"
    if alert.status == "resolved":
        key += ":resolved"
    if len(key) > limits.MAX_KEY:
        raise InputError(f"{where}: the alert has no 'fingerprint', and its 'alertname' and "
                         f"entity labels are too long to make its key (at most "
                         f"{limits.MAX_KEY} characters); send the fingerprint")
    return key


def _from_alert(alert: Alert, where: str) -> Event:
    limits.check_data(alert.labels, where, "labels")
    limits.check_data(alert.annotations, where, "annotations")
    label = next((k for k in ENTITY_LABELS if alert.labels.get(k)), None)
    if label is None:
        raise InputError(f"{where}: the alert needs a 'service', 'job' or 'instance' label")
    entity = alert.labels[label]
    _text(entity, where, f"labels.{label}", limits.MAX_ENTITY)
    name = alert.labels.get("alertname", "alert")
    _time(alert.startsAt, where, "startsAt")
    key = _alert_key(alert, name, entity, where)
    if alert.status == "resolved":
        # (a firing alert's endsAt is ignored: Alertmanager sends 0001-01-01T00:00:00Z)
        if alert.endsAt is not None:
            _time(alert.endsAt, where, "endsAt")
        return _event(where, {}, key=key, type="service.recovered", entity=entity,
                      time=alert.endsAt or alert.startsAt, attrs={"alertname": name},
                      source="alertmanager")
    raw = alert.annotations.get("value") or alert.labels.get("value") or "1"
    try:
        value = float(raw)
    except ValueError as exc:
        raise InputError(f"{where}: annotation 'value' must be a number, got {raw[:30]!r}"
                         ) from exc
    if not math.isfinite(value) or abs(value) > limits.MAX_NUMBER:
        raise InputError(f"{where}: annotation 'value' must be a finite number at most "
                         f"{limits.MAX_NUMBER:g} in magnitude, got {raw[:30]!r}")
    attrs: dict[str, Any] = {"metric": alert.labels.get("metric", name), "value": value,
                             "alertname": name, **{f"label_{k}": v for k, v in
                                                    sorted(alert.labels.items())}}
    return _event(where, {}, key=key, type="alert", entity=entity,
                  time=alert.startsAt, attrs=attrs, source="alertmanager")


@router.post("/alertmanager", status_code=202, response_model=AlertsAccepted)
def ingest_alertmanager(request: Request, payload: AlertmanagerWebhook) -> AlertsAccepted:
    """Accept an Alertmanager webhook: firing alerts become `alert` events (metric from the
    `metric` label or the alert name, value from the `value` annotation), resolved ones
    `service.recovered`; the entity is the `service`, `job` or `instance` label. The answer's
    `notes` say why an alert will make no decision (no detector watches its metric, its
    value crosses no bound) and name entities that are not services of the organisation."""
    from baton.web.alert_notes import notes

    events = [_from_alert(a, f"alerts[{i}]") for i, a in enumerate(payload.alerts)]
    host = _host(request)
    answer = _accept(request, events)
    return AlertsAccepted(**answer.model_dump(), notes=notes(
        host.config, [(f"alerts[{i}]", e) for i, e in enumerate(events)]))
