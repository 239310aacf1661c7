"""Objectives: the weights humans set that coordination optimises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Objectives(BaseModel):
    """Weights over speed, cost, risk and customer impact (each >= 0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    speed: float = Field(default=1.0, ge=0)
    cost: float = Field(default=1.0, ge=0)
    risk: float = Field(default=1.0, ge=0)
    customer_impact: float = Field(default=1.0, ge=0)

    def changed(self, weights: dict[str, object]) -> Objectives:
        """These objectives with some weights replaced; pydantic's ValidationError names a
        bad one."""
        return Objectives.model_validate({**self.model_dump(), **weights})

    def score(self, *, minutes: float, cost: float, risk: int, customer_impact: int) -> float:
        """Higher is better: benefit to customers minus weighted time, cost and risk.

        minutes is the time until the action takes effect, cost is in budget units,
        risk and customer_impact are 0-100.
        """
        return round(
            self.customer_impact * customer_impact / 100.0
            - self.speed * minutes / 60.0
            - self.cost * cost / 100.0
            - self.risk * risk / 100.0,
            9,
        )
