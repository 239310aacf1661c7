"""Verdicts, decisions and escalations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VerdictKind(StrEnum):
    """What governance allows: act alone, ask a person, or never."""

    AUTONOMOUS = "autonomous"
    APPROVAL = "approval"
    DENIED = "denied"


class Verdict(BaseModel):
    """The governance verdict for one action, with the policies that determined it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: VerdictKind
    policy_ids: tuple[str, ...] = ()
    approver: str | None = None  # who may answer when kind is APPROVAL
    reason: str = ""
    capped_by: str | None = None  # autonomy level, kill switch, budget or "no-policy"


class Decision(BaseModel):
    """One row of the ledger: what was decided about a situation, by whom, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str
    time: datetime
    event: str  # the idempotency key of the event that led here
    situation: str
    situation_kind: str
    entity: str
    domain: str
    decided_by: str  # an agent id, or a person id for human decisions
    chosen: str | None  # proposal id
    action: dict[str, Any] | None
    proposals: list[dict[str, Any]] = Field(default_factory=list)  # considered, with outcome
    verdict: Verdict | None
    mode: str = "autonomous"  # the autonomy level applied: observe/shadow/approve/autonomous
    outcome: str = ""  # executed, escalated, denied, shadowed, correlated, failed, ...
    rationale: str = ""
    context: dict[str, Any] = Field(default_factory=dict)  # the governance context used
    latency_s: float = 0.0  # virtual seconds from event time to decision time
    # An approver's change to the action: {"original": {params, amount}, "modified": {...}}
    modification: dict[str, Any] | None = None
    # A joint plan (situation_kind "plan"): the events merged, what was affected, and
    # every step with its order, verdict and status.
    plan: dict[str, Any] | None = None


class Escalation(BaseModel):
    """A human decision request: who may answer, by when, and what runs if approved.

    It walks a chain of steps (e.g. oncall -> team_lead -> domain_owner); each step pages
    its candidates with the same SLA, and `history` keeps every step paged so far.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    decision: str
    created: datetime
    deadline: datetime  # of the current step
    approver: str  # the current step: oncall, team_lead, domain_owner or a role
    candidates: list[str] = Field(default_factory=list)  # paged at the current step
    action: dict[str, Any]
    domain: str
    situation: str
    status: str = "open"  # open, approved, rejected, expired, superseded
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    comment: str = ""
    level: int = 0  # index of the current step in `chain`
    chain: list[str] = Field(default_factory=list)
    severity: int = 2
    owner_team: str = ""
    # one entry per step paged: step, level, candidates, paged_at, deadline, off_hours, route
    history: list[dict[str, Any]] = Field(default_factory=list)
    raised_by: str | None = None  # the person who raised the request; may not answer it
    separation: list[str] = Field(default_factory=list)  # e.g. ["owner"]: @separation
    fallback: str = "reject"  # @fallback: "reject" or "action:<kind>", at the chain's end
    policy_ids: list[str] = Field(default_factory=list)  # the policies that asked for it
    resolution: str = ""  # how it ended, e.g. "approved; executed", "fallback: rejected"
    note: str = ""  # what the person is asked to check, e.g. for an interrupted action
