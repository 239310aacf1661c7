"""Calibrate the top candidate's raw share into the probability that it is right."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression

_EPS = 1e-6


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q) - np.log1p(-q)


class TopCalibrator:
    """Isotonic (monotone step) or sigmoid (Platt) map fitted on a held-out later period."""

    def __init__(self, method: str = "isotonic") -> None:
        if method not in ("isotonic", "sigmoid"):
            raise ValueError(f"unknown calibration method {method!r}")
        self.method = method
        self._iso: IsotonicRegression | None = None
        self._ab = (1.0, 0.0)

    def fit(self, raw: Sequence[float], right: Sequence[bool]) -> TopCalibrator:
        """Learn the map from held-out raw shares and whether the top group was right."""
        x = np.asarray(raw, dtype=float)
        y = np.asarray(right, dtype=float)
        if self.method == "isotonic":
            self._iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self._iso.fit(x, y)
            return self
        z = _logit(x)

        def loss(ab: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            s = ab[0] * z + ab[1]
            p = 1 / (1 + np.exp(-s))
            nll = float(np.sum(np.logaddexp(0, s) - y * s))
            g = p - y
            return nll, np.array([np.dot(g, z), g.sum()])

        self._ab = tuple(minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x)
        return self

    def __call__(self, raw: float) -> float:
        """Calibrated probability that a top candidate with this raw share is right."""
        if self._iso is not None:
            return float(self._iso.predict([raw])[0])
        a, b = self._ab
        return float(1 / (1 + np.exp(-(a * _logit(np.asarray([raw]))[0] + b))))
