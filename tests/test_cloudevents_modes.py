"""CloudEvents as the spec has them: optional `time` and `subject`, binary content mode,
and validation messages in the sender's terms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.config import Config
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "ce.db") as server:
        yield server


def test_an_event_without_time_is_stamped_on_arrival(live: Live) -> None:
    event = {"specversion": "1.0", "id": "t1", "source": "test", "type": "service.down",
             "subject": "db"}
    with live.client("operator") as c:
        r = c.post("/api/events", json=event)
    assert r.status_code == 202, r.text
    stored = live.host.store.decisions(limit=50, filters={"entity": "db"})
    assert stored, "the event made no decision"


def test_without_subject_the_entity_comes_from_data_or_is_asked_for(live: Live) -> None:
    base = {"specversion": "1.0", "source": "test", "type": "service.down"}
    with live.client("operator") as c:
        ok = c.post("/api/events", json={**base, "id": "s1", "data": {"entity": "db"}})
        assert ok.status_code == 202, ok.text
        r = c.post("/api/events", json={**base, "id": "s2"})
    assert r.status_code == 422
    assert "send 'subject' (or a text 'entity' in 'data')" in r.json()["error"]


def test_binary_content_mode_reads_the_headers_and_the_data(live: Live) -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "b1", "ce-source": "probe",
               "ce-type": "service.down", "ce-subject": "api",
               "ce-time": "2026-01-01T00:00:00Z", "content-type": "application/json"}
    with live.client("operator") as c:
        r = c.post("/api/events", headers=headers, content=b'{"region": "eu"}')
        assert r.status_code == 202, r.text
        assert r.json()["keys"] == ["probe:b1"]
        text = c.post("/api/events", headers={**headers, "ce-id": "b2",
                                              "content-type": "text/plain"}, content=b"down")
    assert text.status_code == 422 and "binary mode the data must be JSON" in text.json()["error"]
    (esc,) = live.host.store.escalations(status="open")
    assert esc.action["resource"] == "api"


def test_a_refusal_names_the_field_not_the_validator(live: Live) -> None:
    with live.client("operator") as c:
        one = c.post("/api/events", json={"specversion": "1.0", "source": "t", "type": "x"})
        many = c.post("/api/events", json=[{"specversion": "1.0", "id": "1", "source": "t",
                                            "type": "service.down", "subject": "db"},
                                           {"specversion": "1.0", "source": "t"}])
    assert one.status_code == many.status_code == 422
    for r in (one, many):
        message = r.json()["error"]
        assert "CloudEvent" not in message and "body." not in message, message
    assert "field 'id'" in one.json()["error"]
    assert "event 1: field 'id'" in many.json()["error"]
