"""Bundled scenarios: configuration directories with a simulated world to feed them."""

from __future__ import annotations

from pathlib import Path

from baton.errors import NotFoundError

_ROOT = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.name for p in _ROOT.iterdir()
                  if p.is_dir() and (p / "baton.yaml").is_file())


def scenario_path(name: str) -> Path:
    """The configuration directory of the bundled scenario `name`."""
    path = _ROOT / name
    if name not in available():
        names = ", ".join(available()) or "none"
        raise NotFoundError(f"unknown scenario {name!r} (available: {names})")
    return path
