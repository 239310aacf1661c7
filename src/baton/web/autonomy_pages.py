"""The autonomy ladder and policy proposals on the dashboard and the API.

Pages: /autonomy (each class's level, track record, value, history, recommendations one
click from a proposal, widenings waiting for an admin) and /policy-proposals (each
proposal with its backtest's flips). Changes go through the same control events as the
CLI, so the engine decides them in log order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton.autonomy import autonomy_event, record_of
from baton.errors import BatonError
from baton.web.body import StrictJsonRoute
from baton.web.errors import ApiError, declare
from baton.web.host import EngineHost
from baton.web.render import host_of, redirect_with, render
from baton.web.security import principal_of

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["autonomy"], route_class=StrictJsonRoute,
                responses=declare(400, 401, 403, 413, 422))


class LevelChange(BaseModel):
    """Set a decision class's level (narrow now, or propose a widening), or approve a
    proposed widening."""

    model_config = ConfigDict(extra="forbid")

    cls: str = Field(alias="class", min_length=1, max_length=300)
    level: str | None = Field(default=None, max_length=20)
    reason: str = Field(default="", max_length=2000)
    approve: bool = False


def _person(request: Request) -> str:
    who = principal_of(request)
    assert who is not None  # the access rule admits only signed-in callers
    return who.person


def change_level(host: EngineHost, body: LevelChange, by: str) -> dict[str, Any]:
    """Submit a ladder change as `by`; the record the engine wrote for it."""
    event = host.run(lambda e: autonomy_event(e, body.cls, body.level, by=by,
                                              reason=body.reason, approve=body.approve,
                                              at=host.now(), source="api"))
    host.submit([event])
    return host.run(lambda e: record_of(e.store, event))


@api.get("/autonomy")
def autonomy_status(request: Request) -> dict[str, Any]:
    """Every decision class: level, track record, recommendation, history."""
    return host_of(request).run(lambda e: e.ladder.status())


@api.post("/autonomy", responses=declare(409))
def autonomy_change(request: Request, body: LevelChange) -> dict[str, Any]:
    """Narrow a class now, propose widening it, or (an admin) approve a widening."""
    return change_level(host_of(request), body, _person(request))


@api.get("/policy-proposals")
def policy_proposals(request: Request) -> dict[str, Any]:
    """The policy set in force and every proposal with its backtest."""
    return host_of(request).run(lambda e: e.policies.status())


@router.get("/autonomy", response_class=HTMLResponse)
def autonomy_page(request: Request) -> HTMLResponse:
    """The ladder per class, with the evidence for and against each level."""
    status = host_of(request).run(lambda e: e.ladder.status())
    return render(request, "autonomy.html", a=status,
                  levels=("observe", "shadow", "approve", "autonomous"))


@router.post("/autonomy")
def autonomy_form(request: Request, cls: str = Form(..., alias="class", max_length=300),
                  level: str = Form("", max_length=20), reason: str = Form("", max_length=2000),
                  approve: str = Form("")) -> Response:
    """The page's forms: set a level, propose a recommended widening, approve one."""
    try:
        body = LevelChange.model_validate({"class": cls, "level": level or None,
                                           "reason": reason, "approve": approve == "yes"})
        record = change_level(host_of(request), body, _person(request))
    except BatonError as exc:
        return redirect_with(request, "/autonomy", "bad", f"Nothing changed: {exc}")
    except ApiError as exc:
        return redirect_with(request, "/autonomy", "bad", f"Nothing changed: {exc.message}")
    except ValidationError as exc:
        first = exc.errors()[0]
        return redirect_with(request, "/autonomy", "bad", "Nothing changed: "
                             f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return redirect_with(request, "/autonomy", "ok", f"{record['outcome']}: "
                         f"{record['rationale']}")


@router.get("/policy-proposals", response_class=HTMLResponse)
def proposals_page(request: Request) -> HTMLResponse:
    """Policy proposals with the flips their backtest found."""
    status = host_of(request).run(lambda e: e.policies.status())
    return render(request, "proposals.html", p=status)
