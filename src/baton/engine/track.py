"""The track record of one decision class: counts, outcomes, people's answers, effort.

Fed by the ladder in log order, so it is part of the engine's state (and its snapshot);
`summary` turns it into the figures `baton autonomy status` and the dashboard show.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

#: outcomes of an executed decision, in the order reports list them
OUTCOMES = ("resolved", "no_effect", "worse", "reverted", "superseded", "failed")
#: outcomes that count against a class (with rejections and changed approvals)
BAD = frozenset({"worse", "reverted", "failed"})
Z95 = 1.959963984540054  # the normal quantile for a 95 % interval


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927, JASA 22:209); (0, 1) at n=0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Track:
    """What one class has done and how it went."""

    decisions: int = 0
    modes: Counter[str] = field(default_factory=Counter)  # autonomous/approve/shadow/observe
    outcomes: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # escalations people answered
    approved: int = 0
    changed: int = 0  # approved with changes
    rejected: int = 0
    unanswered: int = 0  # escalations whose whole chain passed without an answer
    approval_wait_s: float = 0.0  # from escalation to answer, summed
    effect_s: float = 0.0  # from decision to the situation clearing, summed over resolved
    autonomous_latency_s: float = 0.0  # decision latency of autonomous dispatches, summed
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=10))  # True = bad

    def note(self, bad: bool, window: int) -> None:
        """Add one judged outcome or answer to the breaker's recent window."""
        if self.recent.maxlen != window:
            self.recent = deque(self.recent, maxlen=window)
        self.recent.append(bad)

    def recent_rate(self) -> float:
        """The share of bad results among the recent ones (0 when none)."""
        return sum(self.recent) / len(self.recent) if self.recent else 0.0

    def summary(self, approval_minutes: float) -> dict[str, Any]:
        """The class's figures as plain data."""
        judged = sum(self.outcomes[k] for k in OUTCOMES if k != "superseded")
        ok = self.outcomes["resolved"]
        low, high = wilson(ok, judged)
        agree_low, _ = wilson(self.approved - self.changed, self.answered)
        resolved = self.outcomes["resolved"]
        autonomous = self.modes["autonomous"]
        return {
            "decisions": self.decisions, "modes": dict(sorted(self.modes.items())),
            "outcomes": {k: self.outcomes[k] for k in OUTCOMES},
            "success_rate": round(ok / judged, 4) if judged else None,
            "success_interval": [round(low, 4), round(high, 4)],
            "answered": self.answered, "approved": self.approved, "changed": self.changed,
            "rejected": self.rejected, "unanswered": self.unanswered,
            "rejection_rate": round(self.rejected / self.answered, 4) if self.answered
            else None,
            "override_rate": round((self.changed + self.outcomes["reverted"])
                                   / (self.answered + judged), 4)
            if self.answered + judged else None,
            "agreement_lower": round(agree_low, 4),
            "mean_time_to_effect_s": round(self.effect_s / resolved, 1) if resolved else None,
            "approval_person_minutes": round(self.answered * approval_minutes, 1),
            "mean_approval_wait_s": round(self.approval_wait_s / self.answered, 1)
            if self.answered else None,
            "mean_autonomous_latency_s": round(self.autonomous_latency_s / autonomous, 1)
            if autonomous else None,
            "person_minutes_saved": round(autonomous * approval_minutes, 1),
            "recent_bad_rate": round(self.recent_rate(), 4), "recent": len(self.recent),
        }
