"""Scores for routing decisions: coverage against accuracy, and calibration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class CoveragePoint:
    """Routing only the cases with confidence >= threshold."""

    threshold: float
    coverage: float
    accuracy: float
    cases: int
    human_accuracy: float  # people's first assignment on the same cases


@dataclass(frozen=True)
class ReliabilityBin:
    """Cases whose confidence fell in [low, high): how confident versus how often right."""

    low: float
    high: float
    cases: int
    mean_confidence: float
    accuracy: float


def _arrays(confidence: Sequence[float],
            correct: Sequence[bool]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=float)
    if conf.shape != right.shape:
        raise ValueError("confidence and correct differ in length")
    return conf, right


def coverage_curve(confidence: Sequence[float], correct: Sequence[bool],
                   human_correct: Sequence[bool],
                   thresholds: Sequence[float]) -> list[CoveragePoint]:
    """Coverage and accuracy (engine and people) above each confidence threshold."""
    conf, right = _arrays(confidence, correct)
    human = np.asarray(human_correct, dtype=float)
    points = []
    for threshold in thresholds:
        chosen = conf >= threshold
        n = int(chosen.sum())
        points.append(CoveragePoint(
            threshold=float(threshold),
            coverage=n / len(conf) if len(conf) else 0.0,
            accuracy=float(right[chosen].mean()) if n else 0.0,
            cases=n,
            human_accuracy=float(human[chosen].mean()) if n else 0.0))
    return points


def best_at_coverage(points: Sequence[CoveragePoint],
                     min_coverage: float) -> CoveragePoint | None:
    """The most accurate point that still routes at least `min_coverage` of the cases."""
    eligible = [p for p in points if p.coverage >= min_coverage and p.cases]
    return max(eligible, key=lambda p: (p.accuracy, p.threshold), default=None)


def brier(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean squared gap between the confidence and whether the top group was right."""
    conf, right = _arrays(confidence, correct)
    return float(np.mean((conf - right) ** 2)) if len(conf) else 0.0


def reliability(confidence: Sequence[float], correct: Sequence[bool],
                bins: int = 10) -> list[ReliabilityBin]:
    """Reliability table over equal-width confidence bins (empty bins left out)."""
    conf, right = _arrays(confidence, correct)
    index = np.clip((conf * bins).astype(int), 0, bins - 1)
    table = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            table.append(ReliabilityBin(b / bins, (b + 1) / bins, int(chosen.sum()),
                                        float(conf[chosen].mean()),
                                        float(right[chosen].mean())))
    return table


def expected_calibration_error(table: Sequence[ReliabilityBin]) -> float:
    """Case-weighted mean |confidence - accuracy| over a reliability table."""
    total = sum(b.cases for b in table)
    if not total:
        return 0.0
    return sum(b.cases * abs(b.mean_confidence - b.accuracy) for b in table) / total
