"""Why an Alertmanager alert will make no decision: said in the webhook's answer.

The mapping (documented in docs/operations.md): the entity is the first of the `service`,
`job` or `instance` labels; the metric is the `metric` label, else the alert name; the
value is the `value` annotation (or label), else 1. Detectors of `alert` events then match
the metric and compare the value.
"""

from __future__ import annotations

from typing import Any

from baton.config import Config
from baton.model import Event


def _watching(config: Config, metric: str) -> list[Any]:
    return [d for d in config.settings.detectors
            if getattr(d, "event", None) == "alert"
            and getattr(d, "metric", None) in (None, metric)]


def notes(config: Config, events: list[tuple[str, Event]]) -> list[str]:
    """One sentence per alert that no detector will act on, and per unknown service."""
    out: list[str] = []
    services = config.org.service
    watched = sorted({str(getattr(d, "metric", "")) for d in config.settings.detectors
                      if getattr(d, "event", None) == "alert" and getattr(d, "metric", None)})
    for where, event in events:
        if event.entity not in services:
            out.append(f"{where}: {event.entity!r} is not a service of the organisation "
                       "(accepted; detectors that need a service's tier or team cannot act "
                       "on it); send the service's id in the 'service' label")
        if event.type != "alert":
            continue
        metric = str(event.attrs.get("metric", ""))
        detectors = _watching(config, metric)
        if not detectors:
            out.append(f"{where}: no detector watches metric {metric!r}, so no decision "
                       f"follows; detectors of alerts watch {', '.join(watched) or 'nothing'} "
                       "(name one in a 'metric' label, or add a detector in baton.yaml)")
            continue
        value = float(event.attrs.get("value", 1))
        if all(_below_bounds(d, value) for d in detectors):
            bounds = ", ".join(_bound(d) for d in detectors)
            out.append(f"{where}: value {value:g} of {metric!r} does not cross {bounds}, so "
                       "no situation is raised (send the measured value in a 'value' "
                       "annotation)")
    return out


def _below_bounds(detector: Any, value: float) -> bool:
    if getattr(detector, "kind", "") != "threshold":
        return False  # rate-of-change and anomaly detectors judge a series, not one value
    above, below = getattr(detector, "above", None), getattr(detector, "below", None)
    return not ((above is not None and value > above) or (below is not None and value < below))


def _bound(detector: Any) -> str:
    above, below = getattr(detector, "above", None), getattr(detector, "below", None)
    parts = ([f"above {above:g}"] if above is not None else []) + (
        [f"below {below:g}"] if below is not None else [])
    return f"{detector.id} ({' or '.join(parts)})"
