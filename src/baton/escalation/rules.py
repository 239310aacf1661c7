"""Who may answer an escalation: one implementation for the engine and the API.

Pure functions of the organisation and the escalation: nothing here writes, so the API
can refuse (403/409) before it appends any event, and the engine refuses the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from baton.governance.policies import PolicyInfo
from baton.model import Escalation
from baton.org.model import Organisation

ANSWERING_ACCESS = ("approver", "admin")  # access levels that may answer escalations


class Refusal(NamedTuple):
    """Why an answer is refused: a short rule name and a sentence naming the rule."""

    rule: str  # "unknown person", "access", "own request", "separation of duties", ...
    reason: str
    policy_ids: tuple[str, ...] = ()  # the policies that determined it, if any


def policy_terms(infos: Iterable[PolicyInfo]) -> tuple[list[str], str]:
    """(@separation rules, @fallback) of the policies behind a verdict, strictest first."""
    # Separation rules add up; the fallback is "reject" when any policy says so or none
    # names one, else the first `action:<kind>` in policy order.
    separation: set[str] = set()
    fallbacks: list[str] = []
    for info in infos:
        separation.update(info.separation)
        if info.fallback:
            fallbacks.append(info.fallback)
    fallback = "reject" if not fallbacks or "reject" in fallbacks else fallbacks[0]
    return sorted(separation), fallback


def in_team(org: Organisation, person_id: str, team: str) -> bool:
    """True when the person belongs to `team` or leads it."""
    person = org.person.get(person_id)
    lead = org.team[team].lead if team in org.team else None
    return (person is not None and person.team == team) or person_id == lead


def barred(org: Organisation, esc: Escalation, person_id: str) -> Refusal | None:
    """Separation of duties: may this person never decide this request?"""
    if esc.raised_by is not None and person_id == esc.raised_by:
        return Refusal("own request", f"{person_id} raised this request; separation of duties "
                       "means nobody decides on their own request")
    if "owner" in esc.separation and in_team(org, person_id, esc.owner_team):
        resource = esc.action.get("resource", "the resource")
        return Refusal("separation of duties",
                       f"{person_id} belongs to {esc.owner_team}, the team that owns "
                       f"{resource}; @separation(\"owner\") of {', '.join(esc.policy_ids)} "
                       "requires someone outside the owning team")
    return None


def access_refusal(org: Organisation, person_id: str) -> Refusal | None:
    """Refusal when the person is unknown or their access is below approver."""
    person = org.person.get(person_id)
    if person is None:
        return Refusal("unknown person", f"{person_id!r} is not a person of the organisation")
    if person.access not in ANSWERING_ACCESS:
        return Refusal("access", f"{person_id} has {person.access} access; answering an "
                       "escalation needs approver or admin access")
    return None


def may_be_paged(org: Organisation, esc: Escalation, person_id: str) -> bool:
    """True when the person could answer this request if paged."""
    return access_refusal(org, person_id) is None and barred(org, esc, person_id) is None


def paged(esc: Escalation, at: datetime | None = None) -> list[str]:
    """Everyone paged so far (by `at`): the current step's and every earlier step's."""
    if not esc.history:  # stored before chains existed
        return list(esc.candidates)
    out: list[str] = []
    for entry in esc.history:
        when = entry.get("paged_at")
        if at is not None and isinstance(when, str) and datetime.fromisoformat(when) > at:
            continue
        out += [p for p in entry.get("candidates", []) if p not in out]
    return out


def refusal(org: Organisation, esc: Escalation, person_id: str, *,
            at: datetime) -> Refusal | None:
    """Why `person_id` may not answer `esc` at `at`, or None when they may."""
    # In order: the person must exist and have approver or admin access; must not have
    # raised the request; must not be of the owning team under @separation("owner"); and
    # must have been paged at this or an earlier step, unless their access is admin.
    found = access_refusal(org, person_id) or barred(org, esc, person_id)
    if found is not None:
        return found
    if org.person[person_id].access == "admin" or person_id in paged(esc, at):
        return None
    asked = "; ".join(f"{h['step']}: {', '.join(h['candidates']) or 'nobody'}"
                      for h in esc.history) or ", ".join(esc.candidates) or "nobody"
    return Refusal("not eligible", f"{person_id} was not paged for {esc.id} (paged so far: "
                   f"{asked}) and is no admin; only those paged at this or an earlier step "
                   "may answer")


def check_answer(org: Organisation, esc: Escalation, person_id: str, *,
                 at: datetime) -> str | None:
    """The reason `person_id` may not answer `esc` (for a 403), or None when they may."""
    found = refusal(org, esc, person_id, at=at)
    return None if found is None else found.reason


def chain_end(esc: Escalation) -> datetime:
    """When the last step of the chain passes unanswered, if every later step waits."""
    timed = [h for h in esc.history if h.get("deadline") and h.get("paged_at")]
    if not timed:
        return esc.deadline
    step = (datetime.fromisoformat(timed[-1]["deadline"])
            - datetime.fromisoformat(timed[-1]["paged_at"]))
    later = max(0, len(esc.chain) - 1 - esc.level)
    return esc.deadline + later * max(step, timedelta(0))


def check_open(esc: Escalation, *, at: datetime) -> str | None:
    """The reason `esc` can no longer be answered at `at` (for a 409), or None."""
    if esc.status != "open":
        who = f" by {esc.resolved_by}" if esc.resolved_by else ""
        return f"escalation {esc.id} is already {esc.status}{who}; nothing changed"
    end = chain_end(esc)
    if at >= end:
        return (f"escalation {esc.id} expired at {end.isoformat()} (every step of its chain "
                "passed unanswered); nothing changed")
    return None
