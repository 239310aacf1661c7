"""The authorization matrix, generated from the app's own routes: every route x every role."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from baton.auth.roles import at_least
from baton.web.rules import AGENT, ANONYMOUS, RULES
from baton.web.security import route_keys, routes_without_rules
from web_support import Live, live_server

ROLES = (None, "viewer", "operator", "approver", "admin")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from baton.config import load_config
    from baton.scaffold import scaffold

    root = tmp_path_factory.mktemp("authz")
    scaffold(root / "cfg")
    with live_server(load_config(root / "cfg"), root / "authz.db") as server:
        yield server


def _routes(live: Live) -> list[tuple[str, str]]:
    from baton.web.app import create_app

    return route_keys(create_app(live.host, live.auth).routes)


def test_every_route_has_an_access_rule(live: Live) -> None:
    from baton.web.app import create_app

    app = create_app(live.host, live.auth)
    assert routes_without_rules(app.routes) == []
    assert sorted(set(_routes(live)) - set(RULES)) == []
    assert sorted(set(RULES) - set(_routes(live))) == [], "rules for routes that do not exist"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-0000001", path) + ("/baton.css" if path == "/static" else "")


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_the_matrix_of_routes_and_roles(live: Live, role: str | None) -> None:
    failures = []
    for method, path in _routes(live):
        need = RULES[(method, path)]
        url = _concrete(path)
        with live.client(role) as c:
            if path == "/stream":
                with c.stream(method, url) as response:
                    status = response.status_code
            else:
                status = c.request(method, url, json={} if method == "POST" else None).status_code
        allowed = need == ANONYMOUS or (role is not None and need != AGENT
                                        and at_least(role, need))
        if allowed and status in (401, 403):
            failures.append(f"{role} {method} {path}: {status}, expected access ({need})")
        if not allowed and status != (401 if role is None else 403):
            failures.append(f"{role} {method} {path}: {status}, expected refusal ({need})")
        if status >= 500:
            failures.append(f"{role} {method} {path}: server error {status}")
    assert failures == []
