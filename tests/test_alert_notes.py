"""The Alertmanager webhook says why an alert will make no decision, and flags strangers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.config import Config
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "am.db") as server:
        yield server


def _post(live: Live, *alerts: dict[str, Any]) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    payload = {"version": "4", "status": "firing", "receiver": "baton", "groupKey": "g",
               "alerts": [{"status": "firing", "startsAt": at, "fingerprint": f"f{i}", **a}
                          for i, a in enumerate(alerts)]}
    with live.client("operator") as c:
        r = c.post("/api/alertmanager", json=payload)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_standard_alert_says_no_detector_watches_its_metric(live: Live) -> None:
    body = _post(live, {"labels": {"alertname": "HighErrorRate", "service": "api",
                                   "severity": "page"}})
    (note,) = body["notes"]
    assert note.startswith("alerts[0]: no detector watches metric 'HighErrorRate'")
    assert "error_rate" in note and "cpu_util" in note and "'metric' label" in note


def test_a_value_below_the_threshold_is_explained(live: Live) -> None:
    body = _post(live, {"labels": {"alertname": "CpuHigh", "service": "worker",
                                   "metric": "cpu_util"}, "annotations": {"value": "0.5"}})
    (note,) = body["notes"]
    assert "value 0.5 of 'cpu_util' does not cross cpu (above 0.9)" in note


def test_an_unknown_service_is_flagged_and_a_good_alert_has_no_notes(live: Live) -> None:
    body = _post(live,
                 {"labels": {"alertname": "CpuHigh", "service": "nosuch", "metric": "cpu_util"},
                  "annotations": {"value": "0.96"}},
                 {"labels": {"alertname": "CpuHigh", "service": "worker", "metric": "cpu_util"},
                  "annotations": {"value": "0.97"}})
    assert body["accepted"] == 2
    assert body["notes"] == ["alerts[0]: 'nosuch' is not a service of the organisation "
                             "(accepted; detectors that need a service's tier or team cannot "
                             "act on it); send the service's id in the 'service' label"]
