"""Every API operation against its own OpenAPI description, with generated requests.

Schemathesis reads /openapi.json from a live server and sends valid and invalid requests
to every operation as the admin (who may call everything): no response may be a server
error, and each must have a status, content type and body that the description declares.
Generation is deterministic and bounded (no shrinking), so a run takes seconds and repeats.
Besides the description's own requests, each operation gets:

- for a path id, requests on ids that exist (an open escalation, a recorded decision);
- for the operations that feed the engine, requests from a *deepened* description whose
  free strings are narrowed to what the organisation knows (services, domains, agents,
  event types with their attributes, recent times): those pass Baton's own rules and
  reach the engine, where a server error would hide.

Deliberate choices:

- The app answers every refusal with `{"error": "..."}` and declares that body and its
  statuses (400, 401, 403, 404, 409, 422, 503); the responses are validated against them.
- A 422 that a Baton rule gives to a schema-valid request (an unknown domain or event
  type, an empty batch, an alert without an entity label) is accepted; a 422 from request
  validation itself ("invalid request: ...") for a schema-valid request is a failure: it
  means the description and the models disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.strategies import SearchStrategy
from schemathesis import BaseSchema, Case, CheckContext, GenerationMode, Response
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from baton.config import Config, load_config
from baton.model.events import CONTROL_PREFIX
from baton.scaffold import scaffold
from baton.web.rules import RULES
from integration_support import cloudevent, open_escalation
from web_support import Live, live_server

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(60)]

EXAMPLES = 20  # per operation and strategy
SEED = 20260302
#: operations whose requests `deepened` lets into the engine
DEEPENED = {("POST", "/api/events"), ("POST", "/api/alertmanager"),
            ("POST", "/api/kill-switch"), ("POST", "/api/policies/check")}
#: the routes the description must cover: the API and the probes (pages are left out);
#: the ones that feed the engine last, so the escalation is still open for the answers
PROBES = ("/healthz", "/readyz", "/metrics")
OPERATIONS = sorted(((method, path) for method, path in RULES
                     if path.startswith("/api/") or path in PROBES),
                    key=lambda op: (op in DEEPENED, op))

ERROR_BODY = {"type": "object", "required": ["error"], "additionalProperties": False,
              "properties": {"error": {"type": "string"}}}
_ERROR = {"content": {"application/json": {"schema": ERROR_BODY}}}
#: error responses the app sends but does not declare yet (see the module docstring)
ERROR_RESPONSES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("GET", "/api/decisions/{decision_id}"): {"404": dict(_ERROR, description="No such decision")},
    ("GET", "/api/escalations/{escalation_id}"): {
        "404": dict(_ERROR, description="No such escalation")},
    **{("POST", f"/api/escalations/{{escalation_id}}/{verb}"): {
        "403": dict(_ERROR, description="The caller may not answer this escalation"),
        "404": dict(_ERROR, description="No such escalation"),
        "409": dict(_ERROR, description="Already answered or expired, or a change outside "
                                        "policy")} for verb in ("approve", "reject", "modify")},
    ("GET", "/readyz"): {"503": {"description": "The database does not answer",
                                 "content": {"text/plain": {"schema": {"type": "string"}}}}},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("schemathesis")
    scaffold(root / "cfg")
    with live_server(load_config(root / "cfg"), root / "schemathesis.db") as server:
        with server.client("operator") as c:  # something to find: a decision, an escalation
            r = c.post("/api/events", json=[cloudevent("down-db", "service.down", "db", 150),
                                            cloudevent("down-api", "service.down", "api")])
            assert r.status_code == 202, r.text  # 2 h apart: two incidents, not one
        yield server


@pytest.fixture(scope="module")
def known(live: Live) -> dict[str, str]:
    """Ids that exist, for the path parameters of some of the requests."""
    with live.client("viewer") as c:
        (escalation,) = c.get("/api/escalations").json()["items"]
        decision = c.get("/api/decisions").json()["items"][-1]
    return {"decision_id": str(decision["id"]), "escalation_id": str(escalation["id"])}


@pytest.fixture(scope="module")
def described(live: Live) -> dict[str, Any]:
    """The app's own OpenAPI description."""
    with live.client() as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def deepened(raw: dict[str, Any], live: Live) -> dict[str, Any]:
    """The description with free strings narrowed to what the organisation knows (its
    services, domains, agents, event types with their attributes, recent times), so that
    generated requests get past Baton's rules and into the engine."""
    engine = live.host.engine
    org = engine.config.org
    now = datetime.now(UTC).replace(microsecond=0)
    recent = [(now - timedelta(minutes=m)).isoformat().replace("+00:00", "Z")
              for m in range(1, 121)]
    types = sorted(t for t in engine.event_types if not t.startswith(CONTROL_PREFIX))
    out = copy.deepcopy(raw)
    schemas = out["components"]["schemas"]
    event = schemas["CloudEvent"]["properties"]
    event["type"] = {"enum": types}
    event["subject"] = {"enum": sorted(org.service)}
    event["time"] = {"enum": recent}
    event["data"] = {"type": "object", "additionalProperties": True,
                     "required": sorted({a for t in types for a in engine.event_types[t]})}
    alert = schemas["Alert"]["properties"]
    alert["labels"] = {"type": "object", "required": ["service"],
                       "properties": {"service": {"enum": sorted(org.service)}},
                       "additionalProperties": {"type": "string"}}
    alert["annotations"] = {"type": "object", "additionalProperties": {"type": "string"},
                            "properties": {"value": {"type": "string",
                                                     "pattern": r"^-?[0-9]{1,4}(\.[0-9]{1,3})?$"}}}
    alert["startsAt"] = {"enum": recent}
    domain = {"enum": sorted(org.domain)}
    schemas["KillSwitch"]["properties"]["domain"] = {"anyOf": [domain, {"type": "null"}]}
    check = schemas["PolicyCheck"]["properties"]
    check["domain"] = domain
    check["resource"] = {"enum": sorted(org.service)}
    check["agent"] = {"anyOf": [{"enum": sorted(a.id for a in engine.agents)},
                                {"type": "null"}]}
    return out


def _load(raw: dict[str, Any], live: Live) -> BaseSchema:
    config = schemathesis.Config.from_dict({"seed": SEED, "base-url": live.url,
                                            "request-timeout": 10})
    return schemathesis.openapi.from_dict(raw, config=config)


@pytest.fixture(scope="module")
def api_schema(live: Live, described: dict[str, Any]) -> BaseSchema:
    return _load(described, live)


@pytest.fixture(scope="module")
def deep_schema(live: Live, described: dict[str, Any]) -> BaseSchema:
    return _load(deepened(described, live), live)


def test_the_description_covers_exactly_the_api(api_schema: BaseSchema) -> None:
    found = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # the description itself is valid
        found.append((result.ok().method.upper(), result.ok().path))
    assert sorted(found) == sorted(OPERATIONS)


def test_the_app_declares_its_error_responses(described: dict[str, Any]) -> None:
    missing = [f"{method} {path} {status}"
               for (method, path), responses in ERROR_RESPONSES.items()
               for status in responses
               if status not in described["paths"][path][method.lower()]["responses"]]
    assert missing == []
    assert "error" in described["components"]["schemas"]["ErrorBody"]["required"]


def positive_data_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Schemathesis' check, except that a Baton rule may refuse schema-valid input (422)."""
    body = _json(response)
    if response.status_code == 422 and isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error and not error.startswith("invalid request:"):
            return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def strategies(operation: Any, raw: dict[str, Any],
               known: dict[str, str]) -> list[tuple[GenerationMode, SearchStrategy[Case[Any]]]]:
    """Valid requests; invalid ones when there is input to spoil; valid ones on real ids."""
    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    out = [(positive, operation.as_strategy(generation_mode=positive))]
    if raw.get("parameters") or raw.get("requestBody"):
        out.append((negative, operation.as_strategy(generation_mode=negative)))
    ids = {p["name"]: known[p["name"]] for p in raw.get("parameters", [])
           if p["in"] == "path" and p["name"] in known}
    if ids:
        out.append((positive, operation.as_strategy(generation_mode=positive,
                                                    path_parameters=ids)))
    return out


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_each_operation_answers_as_described(api_schema: BaseSchema, deep_schema: BaseSchema,
                                             live: Live, described: dict[str, Any],
                                             known: dict[str, str], method: str,
                                             path: str) -> None:
    operation = api_schema[path][method]
    auth = {"Authorization": f"Bearer {live.tokens['admin']}"}
    statuses: list[int] = []
    plan = strategies(operation, described["paths"][path][method.lower()], known)
    if (method, path) in DEEPENED:
        plan.append((GenerationMode.POSITIVE, deep_schema[path][method].as_strategy()))

    for mode, strategy in plan:

        @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None,
                             deadline=None, phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=strategy)
        def check(case: Case[Any]) -> None:
            response = case.call(headers=auth, timeout=10)
            statuses.append(response.status_code)
            case.validate_response(response, headers=auth,
                                   transport_kwargs={"headers": auth, "timeout": 10},
                                   excluded_checks=[positive_data_acceptance],
                                   additional_checks=[positive_data_accepted])

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise  # (an input that cannot be spoilt has no invalid requests to send)
    assert statuses, f"no request was sent to {method} {path}"


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def test_an_undecodable_body_gets_the_error_body(live: Live) -> None:
    with live.client("operator") as c:
        r = c.post("/api/events", content=b"\xff\xfe{", headers={
            "content-type": "application/json"})
    assert r.status_code in (400, 422)
    assert set(r.json()) == {"error"} and r.json()["error"], r.text


def test_a_huge_integer_is_refused_not_a_server_error(starter: Config, tmp_path: Path) -> None:
    with live_server(starter, tmp_path / "huge.db") as live:
        esc = open_escalation(live)
        head = live.host.store.ledger_head()
        answers = []
        for role, path, body in [
                ("operator", "/api/events", cloudevent("huge", "service.down", "db", n=2**64)),
                ("admin", f"/api/escalations/{esc['id']}/modify",
                 {"params": {"replicas": 2**64}})]:
            with live.client(role) as c:  # a fresh connection each: a 500 closes it
                r = c.post(path, json=body)
            answers.append(f"{path}: {r.status_code} {r.text}")
        assert all(" 422 " in a and '"error"' in a for a in answers), answers
        assert live.host.store.ledger_head() == head
