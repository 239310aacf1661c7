"""The dashboard's audit page: checkpoints, the last verification, proofs to download."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from baton import audit as service
from baton.errors import BatonError, NotFoundError
from baton.ledger import audit, checkpoints, proofs
from baton.ledger.chain import verify as verify_chain
from baton.ledger.watch import acknowledge_hold, kept
from baton.web.errors import ApiError
from baton.web.render import host_of, redirect_with, render
from baton.web.security import principal_of

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> HTMLResponse:
    """The chain now, the last full verification and what it covered, the checkpoints."""
    host = host_of(request)
    store = host.store
    shown = list(reversed(checkpoints.stored(store)))[:50]
    held = host.engine.held or (kept(store) or ("",))[0]
    return render(request, "audit.html", result=verify_chain(store.ledger_rows()),
                  last=audit.last_run(store), checkpoints=shown, held=held)


@router.post("/audit/verify")
def audit_verify(request: Request) -> Response:
    """Verify the ledger, the checkpoints and every table people read (not the replay:
    `baton audit verify` runs that); the page shows the outcome."""
    host = host_of(request)
    with host.lock:  # the engine appends nothing while the tables are compared
        service.verify(host.store, host.store.url, replay=False)
    return RedirectResponse("/audit", status_code=303)


@router.post("/audit/acknowledge")
def audit_acknowledge(request: Request, comment: str = Form("")) -> Response:
    """An admin acknowledges what holds processing (recorded in the ledger with her name);
    processing resumes."""
    host = host_of(request)
    who = principal_of(request)
    assert who is not None and who.person is not None  # the access rule admits admins only
    if not comment.strip():
        return redirect_with(request, "/audit", "bad", "Nothing was acknowledged: say in the "
                             "comment what you checked and why processing may resume")
    try:
        rid = host.run(lambda engine: acknowledge_hold(
            engine, by=str(who.person), comment=comment.strip()[:2000], at=datetime.now(UTC)))
    except BatonError as exc:
        return redirect_with(request, "/audit", "bad", str(exc))
    host.wake()
    return redirect_with(request, "/audit", "ok", f"Acknowledged ({rid}): processing resumes")


@router.get("/audit/public-key", response_class=PlainTextResponse)
def public_key(request: Request) -> PlainTextResponse:
    """The PEM public key that verifies this database's checkpoints and proofs."""
    host = host_of(request)
    return PlainTextResponse(service.public_key(host.store, host.store.url),
                             headers={"content-disposition":
                                      'attachment; filename="baton-public-key.pem"'})


@router.get("/decisions/{decision_id}/proof")
def decision_proof(request: Request, decision_id: str) -> Response:
    """The proof bundle of one decision record, to check with `baton audit check-proof`."""
    host = host_of(request)
    trust = service.trust_for(host.store.url, host.config)
    try:
        bundle = proofs.prove(host.store, trust.key(), decision_id, datetime.now(UTC),
                              **trust.witnesses())
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    except BatonError as exc:
        raise ApiError(409, str(exc)) from exc
    return Response(json.dumps(bundle, indent=2) + "\n", media_type="application/json",
                    headers={"content-disposition":
                             f'attachment; filename="proof-{decision_id}.json"'})
