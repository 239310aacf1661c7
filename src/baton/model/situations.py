"""Situations: something that needs a decision, raised by a detector."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Situation(BaseModel):
    """A threshold crossed, an SLA about to break, an anomaly, a violation, a conflict."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    entity: str
    domain: str
    detector: str
    severity: int = Field(default=2, ge=0, le=4)  # 0 = most severe
    time: datetime
    event_ids: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)
    root: str | None = None  # id of the root-cause situation this one is correlated to
