"""Ingest: CloudEvents (single and batch) and the Alertmanager webhook (version 4)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from baton.errors import InputError
from baton.model import Event
from baton.model.events import CONTROL_PREFIX, check_type
from baton.web.errors import declare
from baton.web.host import EngineHost

router = APIRouter(prefix="/api", tags=["ingest"], responses=declare(400, 401, 403, 422))


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode; `subject` names the entity."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(pattern=r"^1\.0$")
    id: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=100)
    type: str = Field(min_length=1, max_length=100)
    subject: str = Field(min_length=1, max_length=200)
    time: datetime
    datacontenttype: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Accepted(BaseModel):
    """What ingest did with the events it was sent."""

    accepted: int
    duplicates: int
    keys: list[str]


def _host(request: Request) -> EngineHost:
    host: EngineHost = request.app.state.host
    return host


#: how far ahead of the server's clock an event may be stamped (clock skew of sources)
MAX_AHEAD = timedelta(minutes=5)


def _accept(host: EngineHost, events: list[Event]) -> Accepted:
    limit = None if host.virtual_clock else host.now() + MAX_AHEAD
    for i, event in enumerate(events):
        check_type(event, host.engine.event_types, f"event {i}")
        if limit is not None and event.time > limit:
            raise InputError(f"event {i}: time {event.time.isoformat()} is more than 5 minutes "
                             "ahead of the server's clock; a future event would move the "
                             "engine's clock and expire every open escalation")
    fresh = host.submit(events)
    return Accepted(accepted=sum(fresh), duplicates=len(fresh) - sum(fresh),
                    keys=[e.key for e in events])


def storable(value: dict[str, Any], where: str) -> None:
    """Refuse what the store cannot write (integers beyond 64 bits)."""
    try:
        orjson.dumps(value)
    except TypeError as exc:
        raise InputError(f"{where} cannot be stored: {exc}") from None


def _from_cloudevent(ce: CloudEvent, where: str) -> Event:
    if ce.time.tzinfo is None:
        raise InputError(f"{where}: field 'time' must carry a time zone")
    if ce.type.startswith(CONTROL_PREFIX):
        raise InputError(f"{where}: {ce.type!r} is a command to Baton, not an event; answer "
                         "escalations at /api/escalations/{id}/... and use /api/kill-switch")
    storable(ce.data, f"{where}: field 'data'")
    return Event(key=f"{ce.source}:{ce.id}", type=ce.type, entity=ce.subject, time=ce.time,
                 attrs=dict(ce.data), source=ce.source)


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
    events = [_from_cloudevent(ce, f"event {i}") for i, ce in enumerate(batch)]
    return _accept(_host(request), events)


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
    alerts: list[Alert] = Field(min_length=1, max_length=1000)


ENTITY_LABELS = ("service", "job", "instance")


def _from_alert(alert: Alert, where: str) -> Event:
    entity = next((alert.labels[k] for k in ENTITY_LABELS if alert.labels.get(k)), None)
    if entity is None:
        raise InputError(f"{where}: the alert needs a 'service', 'job' or 'instance' label")
    name = alert.labels.get("alertname", "alert")
    fingerprint = alert.fingerprint or f"{name}:{entity}"
    if alert.status == "resolved":
        ended = alert.endsAt or alert.startsAt
        return Event(key=f"am:{fingerprint}:{alert.startsAt.isoformat()}:resolved",
                     type="service.recovered", entity=entity, time=ended,
                     attrs={"alertname": name}, source="alertmanager")
    raw = alert.annotations.get("value") or alert.labels.get("value") or "1"
    try:
        value = float(raw)
    except ValueError as exc:
        raise InputError(f"{where}: annotation 'value' must be a number, got {raw!r}") from exc
    attrs: dict[str, Any] = {"metric": alert.labels.get("metric", name), "value": value,
                             "alertname": name, **{f"label_{k}": v for k, v in
                                                    sorted(alert.labels.items())}}
    return Event(key=f"am:{fingerprint}:{alert.startsAt.isoformat()}", type="alert",
                 entity=entity, time=alert.startsAt, attrs=attrs, source="alertmanager")


@router.post("/alertmanager", status_code=202, response_model=Accepted)
def ingest_alertmanager(request: Request, payload: AlertmanagerWebhook) -> Accepted:
    """Accept an Alertmanager webhook: firing alerts become `alert` events (metric from the
    `metric` label or the alert name, value from the `value` annotation), resolved ones
    `service.recovered`; the entity is the `service`, `job` or `instance` label."""
    events = [_from_alert(a, f"alerts[{i}]") for i, a in enumerate(payload.alerts)]
    return _accept(_host(request), events)
