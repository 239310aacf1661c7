"""One-time messages after a form ("approved; executed"), kept in a cookie bound to the
session, never in the URL: a link cannot make the dashboard show text of its choosing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from fastapi import Request
from starlette.responses import Response

FLASH_COOKIE = "baton_flash"
KINDS = ("ok", "bad")
MAX_TEXT = 600


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def put(response: Response, secret: str, kind: str, text: str) -> None:
    """Leave a message for the next page of the person whose session secret is `secret`."""
    if kind not in KINDS:
        raise ValueError(f"flash kind must be one of {KINDS}, got {kind!r}")
    body = json.dumps({"kind": kind, "text": text[:MAX_TEXT]}, ensure_ascii=True)
    payload = base64.urlsafe_b64encode(body.encode()).decode()
    response.set_cookie(FLASH_COOKIE, f"{payload}.{_sign(secret, payload)}", httponly=True,
                        samesite="strict", max_age=120)


def take(request: Request, secret: str) -> dict[str, str] | None:
    """The message left for this session, or None (also for a forged or foreign one)."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    payload, _, mac = raw.partition(".")
    if not secret or not payload or not hmac.compare_digest(mac, _sign(secret, payload)):
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("kind") not in KINDS:
        return None
    return {"kind": str(found["kind"]), "text": str(found.get("text", ""))}


def clear(request: Request, response: Response) -> None:
    """Drop the message once shown."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
