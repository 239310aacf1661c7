"""How a replay trains, calibrates and tests its router, scaled to the log it is given."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from baton.learn.cases import Case
from baton.learn.routing import RoutingConfig
from baton.replay.mapping import RoutingSettings

MIN_TRAIN = (30, 1000)  # a fit needs at least a tenth of the log's cases, within these
MIN_HOLDOUT = (15, 300)  # its calibration holdout a fortieth, within these
REFIT = (timedelta(hours=1), timedelta(days=7))  # a sixtieth of the log's span, within these
NEW_OUTCOMES = (10, 200)  # a refit waits for a twenty-fifth of the log's cases, within these


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


@dataclass(frozen=True)
class Plan:
    """The router's settings for one log, and the figures they came from."""

    config: RoutingConfig
    every: timedelta
    min_new_outcomes: int
    test_share: float
    cases: int
    span_days: float
    stable_alpha: float | None = None
    stable_floor: float = 0.05
    stable_young: int = 5
    stable_young_alpha: float = 0.25

    def describe(self) -> dict[str, Any]:
        """The settings as plain values, for the report."""
        return {"cases_over": self.cases, "span_days": round(self.span_days, 2),
                "test_share": self.test_share, "holdout_share": self.config.holdout_share,
                "min_train": self.config.min_train, "min_holdout": self.config.min_holdout,
                "window": self.config.window,
                "refit_every_hours": round(self.every.total_seconds() / 3600, 2),
                "min_new_outcomes": self.min_new_outcomes,
                "stable_alpha": self.stable_alpha, "stable_floor": self.stable_floor,
                "stable_young": self.stable_young,
                "stable_young_alpha": self.stable_young_alpha}


def plan_for(cases: list[Case], settings: RoutingSettings,
             base: RoutingConfig | None = None) -> Plan:
    """Settings scaled to the log's size and span; any set in `settings` are kept as set.

    Each fit calibrates on the latest `holdout_share` of the outcomes known so far (cases
    opened within the median time to close are left out, as most are still open) and
    trains on those closed before the holdout opened; the minimums shrink with the log.
    """
    n = len(cases)
    opens = sorted(c.opened_at for c in cases)
    span = opens[-1] - opens[0] if opens else timedelta(0)
    every = (timedelta(hours=settings.refit_every_hours) if settings.refit_every_hours
             else max(REFIT[0], min(REFIT[1], span / 60)))
    config = replace(base or RoutingConfig(), holdout_share=settings.holdout_share, lag=None,
                     window=settings.window,
                     min_train=settings.min_train or _clamp(n // 10, MIN_TRAIN),
                     min_holdout=settings.min_holdout or _clamp(n // 40, MIN_HOLDOUT))
    return Plan(config=config, every=every,
                min_new_outcomes=settings.min_new_outcomes or _clamp(n // 25, NEW_OUTCOMES),
                test_share=settings.test_share, cases=n,
                span_days=span.total_seconds() / 86400,
                stable_alpha=settings.stable_alpha, stable_floor=settings.stable_floor,
                stable_young=settings.stable_young,
                stable_young_alpha=settings.stable_young_alpha)
