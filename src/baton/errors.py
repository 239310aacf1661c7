"""One root exception; each error says what was wrong and where."""

from __future__ import annotations


class BatonError(Exception):
    """Root of every error Baton raises on purpose."""


class ConfigError(BatonError):
    """A configuration file is invalid; names the file, line and field."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 field: str = "") -> None:
        self.file = file
        self.line = line
        self.field = field
        self.detail = message
        where = file
        if line is not None:
            where = f"{where}:{line}"
        parts = [p for p in (where, field) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class InputError(BatonError):
    """An event or request is malformed; names what and where."""


class NotFoundError(BatonError):
    """An id does not name anything that exists."""


class ForbiddenError(BatonError):
    """The person may not do this (access, eligibility, separation of duties)."""


class ConflictError(BatonError):
    """The request is valid but contradicts the current state (e.g. already resolved)."""


class PolicyError(ConfigError):
    """A Cedar policy file does not parse or lacks a required annotation."""
