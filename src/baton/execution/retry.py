"""Retry timing shared by connectors: capped exponential backoff with deterministic jitter."""

from __future__ import annotations

import random

_MAX_EXPONENT = 1000  # 2.0**1000 is still finite; larger attempts are capped anyway


def jitter_factor(attempt: int, *, seed: int, key: str) -> float:
    """Return the jitter factor in [0.5, 1.0] for one attempt, fixed by seed, key and attempt."""
    rng = random.Random(f"{seed}:{key}:{attempt}")
    return 0.5 + 0.5 * rng.random()


def backoff_delay(attempt: int, *, base: float, cap: float, seed: int, key: str) -> float:
    """Return the wait before retry number `attempt` (0 = first retry), in seconds.

    The delay is ``min(cap, base * 2**attempt)`` times a jitter factor in [0.5, 1.0]
    drawn from ``random.Random(f"{seed}:{key}:{attempt}")``, so the same seed, key and
    attempt always give the same delay while different keys spread out.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base < 0 or cap < 0:
        raise ValueError(f"base and cap must be >= 0, got base={base} cap={cap}")
    raw = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    return raw * jitter_factor(attempt, seed=seed, key=key)
