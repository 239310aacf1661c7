"""Proposals: candidate actions with effect, cost, risk, confidence and rationale."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Action(BaseModel):
    """One thing to do to one resource, through one connector."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    resource: str
    resource_type: str = "Service"
    params: dict[str, Any] = Field(default_factory=dict)
    amount: int = 0  # budget units the action spends
    compensation: str | None = None  # the action kind that undoes this one


class Proposal(BaseModel):
    """What an agent proposes for a situation, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str
    agent: str
    domain: str
    situation: str
    action: Action
    expected_effect: str
    cost: float = 0.0
    risk: int = Field(default=0, ge=0, le=100)
    minutes: float = Field(default=5.0, ge=0)
    customer_impact: int = Field(default=0, ge=0, le=100)
    confidence: float = Field(default=1.0, ge=0, le=1)
    rationale: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    score: float = 0.0
    after: list[str] = Field(default_factory=list)  # in a joint plan: kinds to wait for
