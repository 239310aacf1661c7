"""Hostile input: everything accepted must be processable.

A corpus of hostile requests goes to a real server over one keep-alive connection, on
SQLite and on PostgreSQL. Each must get a 4xx (never a 5xx) whose JSON error names the
field, leave the connection usable for the next request, and store nothing. The same
kinds of events go through `baton ingest`. After each corpus the pipeline still decides
on a valid event, and the largest input the limits allow is accepted and processed.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from baton.cli import app
from baton.config import load_config
from baton.model import Event, limits
from baton.scaffold import scaffold
from baton.store import open_store
from conftest import _postgres_url
from web_support import Live, live_server

pytestmark = pytest.mark.timeout(120)

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
STAMP = NOW.isoformat().replace("+00:00", "Z")
SOURCE = "hostile"  # every corpus CloudEvent comes from here: none of them may be stored


def ce(i: str, type_: str = "service.down", subject: str = "db", **changes: Any
       ) -> dict[str, Any]:
    """A valid CloudEvent, with some fields changed."""
    event: dict[str, Any] = {"specversion": "1.0", "id": i, "source": SOURCE, "type": type_,
                             "subject": subject, "time": STAMP, "data": {}}
    event.update(changes)
    return event


def nested(levels: int) -> dict[str, Any]:
    """An object nested `levels` deep: {"a": {"a": ... {"a": 1}}}."""
    value: dict[str, Any] = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def text(value: Any) -> bytes:
    """JSON as Python writes it: NaN and Infinity included, NUL and surrogates escaped."""
    return json.dumps(value).encode()


def alert(**changes: Any) -> dict[str, Any]:
    """An Alertmanager (webhook v4) notification with one firing alert, some of it changed."""
    one: dict[str, Any] = {"status": "firing", "startsAt": STAMP, "fingerprint": "f1",
                           "endsAt": "0001-01-01T00:00:00Z",  # what Alertmanager sends
                           "labels": {"alertname": "CpuHigh", "service": "worker",
                                      "metric": "cpu_util"},
                           "annotations": {"value": "0.5"}}
    one.update(changes)
    return {"version": "4", "status": "firing", "receiver": "baton", "groupKey": "g",
            "alerts": [one]}


@dataclass(frozen=True)
class Case:
    """One hostile request: where it goes, its body, and what the error must say."""

    body: bytes
    says: tuple[str, ...]
    path: str = "/api/events"
    method: str = "POST"
    status: int = 422


LONG = "s" * limits.MAX_SOURCE
TOO_MANY = {f"k{i}": i for i in range(limits.MAX_ATTRS + 1)}

#: hostile requests: (body, fragments of the error); "{esc}" in a path is an open escalation
CORPUS: dict[str, Case] = {
    # nesting
    "data-nested-210": Case(text(ce("n1", data=nested(210))),
                            ("event 0: field 'data.a.a.a", "nested deeper than 32 levels")),
    "data-nested-33": Case(text(ce("n2", data=nested(33))),
                           ("event 0: field 'data.a.a.a", "nested deeper than 32 levels")),
    "batch-data-nested-40": Case(text([ce("n3"), ce("n4", data=nested(40))]),
                                 ("event 1: field 'data.a", "nested deeper than 32 levels")),
    "body-nested-100000": Case(b"[" * 100_000, ("the body", "nested deeper than 32 levels")),
    # sizes that must fit the store's columns
    "key-201-characters": Case(text(ce("i" * 100, source=LONG)),
                               ("id", f"at most {limits.MAX_ID} characters")),
    "subject-129-characters": Case(text(ce("s1", subject="e" * 129)),
                                   ("subject", f"at most {limits.MAX_ENTITY} characters")),
    "type-101-characters": Case(text(ce("t0", type_="t" * 101)), ("type", "100 characters")),
    # times
    "time-year-1-east-of-utc": Case(text(ce("t1", time="0001-01-01T00:00+05:00")),
                                    ("event 0: field 'time'", "0001-01-01", "1970-01-01")),
    "time-year-9999-west-of-utc": Case(text(ce("t2", time="9999-12-31T23:59:59-05:00")),
                                       ("event 0: field 'time'", "9999-12-31", "2200")),
    "time-before-1970": Case(text(ce("t3", time="1969-12-31T23:59:59Z")),
                             ("event 0: field 'time'", "1969-12-31")),
    "time-without-zone": Case(text(ce("t4", time="2026-03-02T10:00:00")),
                              ("event 0: field 'time'", "time zone")),
    # numbers JSON or the store cannot carry
    "nan": Case(text(ce("x1", "metric", data={"metric": "cpu_util", "value": float("nan")})),
                ("event 0: field 'data.value'", "NaN")),
    "infinity": Case(text(ce("x2", "metric", data={"metric": "cpu_util",
                                                   "value": float("inf")})),
                     ("event 0: field 'data.value'", "Infinity")),
    "minus-infinity-in-a-batch": Case(
        text([ce("x3"), ce("x4", data={"v": float("-inf")})]),
        ("event 1: field 'data.v'", "-Infinity")),
    "float-overflowing-to-infinity": Case(
        text(ce("x5")).replace(b'"data": {}', b'"data": {"v": 1e999}'),
        ("event 0: field 'data.v'", "1e999")),
    "float-beyond-1e100": Case(text(ce("x6", data={"v": 1e200})),
                               ("event 0: field 'data.v'", "1e+100")),
    "integer-beyond-64-bits": Case(text(ce("x7", data={"n": 2**64})),
                                   ("event 0: field 'data.n'", "64 bits")),
    "integer-of-5000-digits": Case(text(ce("x8")).replace(
        b'"data": {}', b'"data": {"n": ' + b"9" * 5000 + b"}"), ("event 0: field 'data.n'",)),
    # duplicate keys
    "duplicate-key-in-the-event": Case(
        text(ce("d1")).replace(b'"id": "d1"', b'"id": "d1", "id": "d2"'),
        ("the body", "'id' more than once")),
    "duplicate-key-in-data": Case(
        text(ce("d3")).replace(b'"data": {}', b'"data": {"x": 1, "x": 2}'),
        ("event 0: field 'data'", "'x' more than once")),
    # characters no column can hold
    "nul-in-subject": Case(text(ce("z1", subject="d\u0000b")),
                           ("event 0: field 'subject'", "NUL")),
    "nul-in-id": Case(text(ce("z2\u0000")), ("event 0: field 'id'", "NUL")),
    "nul-in-data": Case(text(ce("z3", data={"note": "a\u0000b"})),
                        ("event 0: field 'data.note'", "NUL")),
    "nul-in-a-data-key": Case(text(ce("z4", data={"no\u0000te": 1})),
                              ("event 0: field 'data.no\\x00te'", "NUL")),
    "nul-in-an-extension-attribute": Case(text(ce("z5", traceparent="\u0000")),
                                          ("event 0: field 'traceparent'", "NUL")),
    "lone-surrogate-in-data": Case(text(ce("z6", data={"note": "\ud800"})),
                                   ("event 0: field 'data.note'", "surrogate")),
    # sizes of the data
    "string-too-long": Case(text(ce("l1", data={"note": "x" * (limits.MAX_STRING + 1)})),
                            ("event 0: field 'data.note'", f"{limits.MAX_STRING} characters")),
    "too-many-attrs": Case(text(ce("l2", data=TOO_MANY)),
                           ("event 0: field 'data'", f"at most {limits.MAX_ATTRS}")),
    "too-many-items": Case(text(ce("l3", data={"list": list(range(limits.MAX_ITEMS + 1))})),
                           ("event 0: field 'data.list'", f"at most {limits.MAX_ITEMS}")),
    "attribute-name-too-long": Case(text(ce("l4", data={"k" * 101: 1})),
                                    ("event 0: field 'data.kkk", "100 characters")),
    "data-not-an-object": Case(text(ce("o1", data=[1, 2])), ("data", "dictionary")),
    "data-a-string": Case(text(ce("o2", data="text")), ("data", "dictionary")),
    # control events are commands, never ingested
    "control-event-kill-switch": Case(text(ce("c1", "baton.kill_switch", "*",
                                              data={"enabled": True})),
                                      ("'baton.kill_switch'", "command to Baton")),
    "control-event-approve": Case(text(ce("c2", "baton.approve", "E-1",
                                          data={"escalation": "E-1", "by": "ana"})),
                                  ("'baton.approve'", "command to Baton")),
    # the body as a whole
    "body-too-large": Case(b"[" + b" " * (2 * limits.MAX_BODY_BYTES) + b"]",
                           ("the body", str(limits.MAX_BODY_BYTES)), status=413),
    "batch-too-large": Case(text([ce(f"b{i}") for i in range(limits.MAX_BATCH + 1)]),
                            (f"{limits.MAX_BATCH + 1} events", f"at most {limits.MAX_BATCH}")),
    "empty-batch": Case(b"[]", ("the batch is empty",)),
    "malformed-json": Case(b'{"specversion": "1.0",', ("the body", "malformed JSON")),
    "not-utf-8": Case(b'{"id": "\xff"}', ("the body", "UTF-8")),
    # Alertmanager (webhook v4)
    "alertmanager-service-label-201": Case(
        text(alert(labels={"alertname": "CpuHigh", "service": "s" * 201})),
        ("alerts[0]: field 'labels.service'", f"{limits.MAX_ENTITY} characters"),
        "/api/alertmanager"),
    "alertmanager-startsat-without-zone": Case(
        text(alert(startsAt="2026-03-02T10:00:00")),
        ("alerts[0]: field 'startsAt'", "time zone"), "/api/alertmanager"),
    "alertmanager-startsat-year-1": Case(
        text(alert(startsAt="0001-01-01T00:00:00+05:00")),
        ("alerts[0]: field 'startsAt'", "0001-01-01"), "/api/alertmanager"),
    "alertmanager-resolved-endsat-year-9999": Case(
        text(alert(status="resolved", endsAt="9999-12-31T23:59:59-05:00")),
        ("alerts[0]: field 'endsAt'", "9999-12-31"), "/api/alertmanager"),
    "alertmanager-value-nan": Case(text(alert(annotations={"value": "NaN"})),
                                   ("alerts[0]: annotation 'value'", "finite"),
                                   "/api/alertmanager"),
    "alertmanager-value-overflowing": Case(text(alert(annotations={"value": "1e999"})),
                                           ("alerts[0]: annotation 'value'", "finite"),
                                           "/api/alertmanager"),
    "alertmanager-nul-in-a-label": Case(
        text(alert(labels={"service": "worker", "team": "a\u0000"})),
        ("field 'alerts[0].labels.team'", "NUL"), "/api/alertmanager"),
    "alertmanager-duplicate-label": Case(
        text(alert()).replace(b'"service": "worker"', b'"service": "worker", "service": "db"'),
        ("field 'alerts[0].labels'", "'service' more than once"), "/api/alertmanager"),
    "alertmanager-key-too-long-without-fingerprint": Case(
        text(alert(fingerprint="", labels={"alertname": "A" * 100, "service": "s" * 120})),
        ("alerts[0]", "fingerprint"), "/api/alertmanager"),
    "alertmanager-too-many-alerts": Case(
        text({**alert(), "alerts": alert()["alerts"] * (limits.MAX_BATCH + 1)}),
        ("alerts", f"at most {limits.MAX_BATCH}"), "/api/alertmanager"),
    # the other routes that write events, and ids in paths and queries
    "modify-params-nested-40": Case(text({"params": nested(40)}),
                                    ("field 'params.a.a", "nested deeper than"),
                                    "/api/escalations/{esc}/modify"),
    "modify-params-nul": Case(text({"params": {"note": "\u0000"}}),
                              ("field 'params.note'", "NUL"), "/api/escalations/{esc}/modify"),
    "kill-switch-comment-nul": Case(text({"enabled": True, "comment": "a\u0000"}),
                                    ("field 'comment'", "NUL"), "/api/kill-switch"),
    "objectives-nan": Case(b'{"cost": NaN}', ("field 'cost'", "NaN"), "/api/objectives",
                           "PUT"),
    "nul-in-a-path-parameter": Case(b"", ("path parameter 'escalation_id'", "NUL"),
                                    "/api/escalations/a%00b", "GET"),
    "nul-in-a-path-parameter-of-an-answer": Case(
        b"{}", ("path parameter 'escalation_id'", "NUL"), "/api/escalations/a%00b/approve"),
    "nul-in-a-decision-id": Case(b"", ("path parameter 'decision_id'", "NUL"),
                                 "/api/decisions/D%00", "GET"),
    "nul-in-a-query-parameter": Case(b"", ("query parameter 'domain'", "NUL"),
                                     "/api/decisions?domain=a%00", "GET"),
}


def client_port(response: httpx.Response) -> Any:
    """The client side of the connection that carried `response` (None once closed)."""
    try:
        return response.extensions["network_stream"].get_extra_info("client_addr")
    except (KeyError, OSError):
        return None


def stored(live: Live) -> tuple[int, tuple[int, str]]:
    """The number of stored events and the ledger head."""
    return live.host.store.counts()["events"], live.host.store.ledger_head()


@dataclass
class Session:
    """A server, one admin client (one keep-alive connection) and an open escalation."""

    live: Live
    client: httpx.Client
    escalation: str


@pytest.fixture(scope="module", params=["sqlite",
                                        pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A server on each backend, with one open escalation (api is down: its restart waits
    for approval, so nothing runs in the background)."""
    root = tmp_path_factory.mktemp("hostile")
    scaffold(root / "cfg")
    urls = iter([str(root / "hostile.db")]) if request.param == "sqlite" else _postgres_url()
    url = next(urls)
    try:
        with live_server(load_config(root / "cfg"), url) as live, \
                live.client("admin") as client:
            r = client.post("/api/events", json=ce("setup", "service.down", "api"))
            assert r.status_code == 202, r.text
            (esc,) = client.get("/api/escalations", params={"status": "open"}).json()["items"]
            yield Session(live, client, str(esc["id"]))
    finally:
        next(urls, None)  # (drops the PostgreSQL database)


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_requests_get_a_4xx_naming_the_field(session: Session, name: str) -> None:
    case = CORPUS[name]
    before = stored(session.live)
    port = client_port(session.client.get("/healthz"))

    r = session.client.request(case.method, case.path.format(esc=session.escalation),
                               content=case.body,
                               headers={"content-type": "application/json"})

    assert r.status_code == case.status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    for fragment in case.says:
        assert fragment in body["error"], body["error"]
    assert r.headers.get("connection") != "close"
    assert stored(session.live) == before  # nothing was stored
    after = session.client.get("/healthz")  # the connection carries the next request
    assert after.json() == {"ok": True}
    assert client_port(r) == client_port(after) == port


def test_after_the_corpus_the_pipeline_still_decides(session: Session) -> None:
    port = client_port(session.client.get("/healthz"))
    r = session.client.post("/api/events", json=ce("after", "service.down", "db"))
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    assert client_port(r) == port
    decided = session.live.host.store.decisions(limit=50)
    assert any(d["event"] == f"{SOURCE}:after" for d in decided)
    counts = session.live.host.store.counts()
    assert counts.get("dead_letters", 0) == 0  # nothing accepted failed to process
    escalation = session.client.get(f"/api/escalations/{session.escalation}").json()
    assert escalation["status"] == "open"  # no refused answer touched it


def test_the_largest_valid_input_is_accepted_and_processed(session: Session) -> None:
    """The limits are not tighter than they say: the biggest of everything goes through,
    on to an action on the longest entity (whose key is derived from it)."""
    entity = "e" * limits.MAX_ENTITY
    data: dict[str, Any] = {"metric": "cpu_util", "value": 0.99, "deep": nested(31),
                            "note": "x" * limits.MAX_STRING, "n": limits.MAX_INT,
                            "f": -limits.MAX_NUMBER, "list": list(range(limits.MAX_ITEMS))}
    data.update({f"k{i}": i for i in range(limits.MAX_ATTRS - len(data))})
    events = [ce("i" * limits.MAX_ID, "alert", entity, source=LONG, data=data),
              ce("epoch", "service.recovered", "db", time="1970-01-01T05:00:00+05:00")]
    r = session.client.post("/api/events", json=events)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2
    assert len(r.json()["keys"][0]) == limits.MAX_KEY
    decided = session.live.host.store.decisions(limit=50)
    assert any(d["entity"] == entity for d in decided)
    assert session.live.host.store.counts().get("dead_letters", 0) == 0


def test_an_alertmanager_notification_as_alertmanager_sends_it_is_accepted(
        session: Session) -> None:
    """A firing alert carries endsAt 0001-01-01T00:00:00Z: that is no reason to refuse it."""
    r = session.client.post("/api/alertmanager", json=alert(fingerprint="real"))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] + r.json()["duplicates"] == 1


# --- baton ingest ----------------------------------------------------------------------------


def line(key: str = "k2", **changes: Any) -> str:
    """One valid `baton ingest` line, with some fields changed."""
    event: dict[str, Any] = {"key": key, "type": "service.down", "entity": "db",
                             "time": STAMP, "attrs": {}}
    event.update(changes)
    return json.dumps(event)


#: hostile lines for `baton ingest`: (line, fragments of the error)
LINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "attrs-nested-210": (line(attrs=nested(210)), ("field 'attrs.a.a", "deeper than 32")),
    "attrs-nested-33": (line(attrs=nested(33)), ("field 'attrs.a.a", "deeper than 32")),
    "key-201-characters": (line("k" * 201), ("'key'", "200 characters")),
    "entity-129-characters": (line(entity="e" * 129), ("'entity'", "128 characters")),
    "time-year-1-east-of-utc": (line(time="0001-01-01T00:00+05:00"), ("'time'", "0001-01-01")),
    "time-year-9999": (line(time="9999-12-31T23:59:59Z"), ("'time'", "9999-12-31")),
    "time-year-9999-west-of-utc": (line(time="9999-12-31T23:59:59-05:00"),
                                   ("'time'", "9999-12-31")),
    "time-before-1970": (line(time="1969-12-31T23:59:59Z"), ("'time'", "1969")),
    "nan": (line(attrs={"v": float("nan")}), ("field 'attrs.v'", "NaN")),
    "infinity": (line(attrs={"v": float("inf")}), ("field 'attrs.v'", "Infinity")),
    "integer-beyond-64-bits": (line(attrs={"n": -(2**64)}), ("field 'attrs.n'", "64 bits")),
    "duplicate-key": (line().replace('"key": "k2"', '"key": "k2", "key": "k3"'),
                      ("'key' more than once",)),
    "nul-in-entity": (line(entity="d\u0000b"), ("'entity'", "NUL")),
    "nul-in-attrs": (line(attrs={"note": "\u0000"}), ("field 'attrs.note'", "NUL")),
    "lone-surrogate-in-key": (line("k\udc00"), ("'key'", "surrogate")),
    "string-too-long": (line(attrs={"s": "x" * (limits.MAX_STRING + 1)}),
                        ("field 'attrs.s'", f"{limits.MAX_STRING} characters")),
    "too-many-attrs": (line(attrs=TOO_MANY), ("field 'attrs'", f"at most {limits.MAX_ATTRS}")),
    "attrs-not-an-object": (line(attrs=[1]), ("'attrs'", "dictionary")),
    "line-too-large": (line(attrs={"s": "x" * limits.MAX_BODY_BYTES}),
                       (str(limits.MAX_BODY_BYTES),)),
    "not-an-object": ("[1, 2]", ("JSON object",)),
}

GOOD = line("good-1")


def baton(*args: str | Path) -> Result:
    """Run the `baton` command in-process."""
    return CliRunner().invoke(app, [str(a) for a in args])


def snapshot(db: str) -> tuple[dict[str, int], tuple[int, str]]:
    """Row counts and ledger head of a database."""
    store = open_store(db, create=False)
    try:
        return store.counts(), store.ledger_head()
    finally:
        store.close()


def refuse_then_decide(db: str, tmp_path: Path, bad: str, says: tuple[str, ...]) -> None:
    """`baton ingest` refuses a file whose line 3 is `bad`, naming it; then decides on a
    valid event as before."""
    source = tmp_path / "events.jsonl"
    source.write_text(f"{line('good-2')}\n\n{bad}\n", encoding="utf-8")
    before = snapshot(db)

    result = baton("ingest", source, "--db", db)

    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # refused, not a traceback
    message = " ".join(result.stderr.split())
    assert message.startswith("error:") and f"{source}:3" in message, message
    for fragment in says:
        assert fragment in message, message
    assert snapshot(db) == before  # not even the valid line 1 was accepted

    source.write_text(line("good-3", entity="reports") + "\n", encoding="utf-8")
    result = baton("ingest", source, "--db", db)
    assert result.exit_code == 0, result.output
    assert "processed 1" in " ".join(result.output.split())
    assert snapshot(db)[0]["decisions"] > before[0]["decisions"]


def _ingest_first(db: str, config: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(GOOD + "\n")
    result = baton("ingest", first, "--db", db, "--config", config)
    assert result.exit_code == 0, result.output


@pytest.fixture
def cli_db(tmp_path: Path, starter_dir: Path) -> str:
    """A SQLite database on the starter configuration with one event in it."""
    db = str(tmp_path / "baton.db")
    _ingest_first(db, starter_dir, tmp_path)
    return db


@pytest.mark.parametrize("name", list(LINES))
def test_baton_ingest_refuses_hostile_lines_naming_the_field(
        name: str, cli_db: str, tmp_path: Path) -> None:
    bad, says = LINES[name]
    refuse_then_decide(cli_db, tmp_path, bad, says)


@pytest.mark.postgres
# `baton ingest` leaves its PostgreSQL connections to the garbage collector: collected here
# (see the end of the test), their warnings would otherwise fail whichever test runs next
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("name", ["nul-in-entity", "nul-in-attrs", "lone-surrogate-in-key",
                                  "time-year-9999-west-of-utc", "attrs-nested-210"])
def test_baton_ingest_refuses_hostile_lines_on_postgresql(
        name: str, tmp_path: Path, starter_dir: Path) -> None:
    urls = _postgres_url()
    db = next(urls)
    try:
        _ingest_first(db, starter_dir, tmp_path)
        bad, says = LINES[name]
        refuse_then_decide(db, tmp_path, bad, says)
    finally:
        gc.collect()
        next(urls, None)


# --- the model's own rules, whatever builds the event ----------------------------------------


@pytest.mark.parametrize(("changes", "says"), [
    ({"time": datetime(1, 1, 1, tzinfo=UTC) + timedelta(hours=1)}, "0001-01-01"),
    ({"time": datetime(9999, 12, 31, 23, 0, tzinfo=UTC)}, "9999-12-31"),
    ({"attrs": nested(limits.MAX_DEPTH + 1)}, "nested deeper than 32"),
    ({"attrs": {"v": float("nan")}}, "nan"),
    ({"attrs": {"v": {1, 2}}}, "set"),
    ({"entity": "a\u0000"}, "NUL"),
    ({"key": "k" * (limits.STORE_KEY + 1)}, "200 characters"),
])
def test_an_event_that_could_not_be_processed_cannot_be_built(
        changes: dict[str, Any], says: str) -> None:
    fields: dict[str, Any] = {"key": "k", "type": "service.down", "entity": "db",
                              "time": NOW, "attrs": {}}
    with pytest.raises(ValidationError) as caught:
        Event(**{**fields, **changes})
    assert says in str(caught.value)


@pytest.mark.parametrize(("when", "ok"), [
    ("1970-01-01T00:00:00Z", True),
    ("1969-12-31T23:59:59.999999Z", False),
    ("1970-01-01T04:59:59+05:00", False),  # 1969 in UTC
    ("2200-12-31T23:59:59.999999Z", True),
    ("2201-01-01T00:00:00Z", False),
    ("2200-12-31T20:00:00-05:00", False),  # 2201 in UTC
    ("0001-01-01T00:00:00+14:00", False),
    ("9999-12-31T23:59:59-14:00", False),
])
def test_the_time_range_is_exact_and_never_overflows(when: str, ok: bool) -> None:
    assert (limits.time_problem(datetime.fromisoformat(when)) is None) is ok
