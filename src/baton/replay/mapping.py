"""Mapping files: how a recorded log's columns become Baton's cases and events."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from baton.errors import ConfigError, InputError
from baton.yamlsrc import Located, load_yaml

BUNDLED = Path(__file__).parent / "mappings"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeColumn(_Strict):
    """A timestamp column: its name, its format (strptime, or `iso`) and its time zone."""

    column: str
    format: str = "iso"
    timezone: str = "UTC"

    def parse(self, text: str) -> datetime:
        """The aware UTC time in `text`; ValueError naming the format when it does not fit."""
        return _parse(self.format, self.timezone, text)


@lru_cache(maxsize=1 << 18)
def _parse(fmt: str, zone: str, text: str) -> datetime:
    """Parse once per distinct text: logs repeat their timestamps a lot."""
    if fmt == "iso":
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        at = datetime.strptime(text, fmt)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(zone))
    return at.astimezone(UTC)


class Mapping(_Strict):
    """How to read one kind of log."""

    name: str
    format: Literal["csv", "jsonl"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    missing: list[str] = Field(default_factory=lambda: ["", "?"])
    case: str
    updated_at: TimeColumn
    opened_at: TimeColumn
    resolved_at: TimeColumn | None = None
    closed_at: TimeColumn | None = None  # when the case closed for good (else resolved_at)
    state: str
    group: str
    resolved_states: list[str] = Field(min_length=1)
    open_attributes: list[str] = Field(min_length=1)
    reassignment_count: str | None = None  # a column counting reassignments, if the log has one
    domain: str = "support"


class LoadedMapping:
    """A mapping with the file it came from, so errors can name its lines."""

    def __init__(self, mapping: Mapping, doc: Located) -> None:
        self.mapping = mapping
        self.doc = doc

    def columns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every column the mapping names, with the path of its key in the file."""
        m = self.mapping
        out: list[tuple[tuple[str | int, ...], str]] = [
            (("case",), m.case), (("updated_at", "column"), m.updated_at.column),
            (("opened_at", "column"), m.opened_at.column), (("state",), m.state),
            (("group",), m.group)]
        for key in ("resolved_at", "closed_at"):
            column = getattr(m, key)
            if column is not None:
                out.append(((key, "column"), column.column))
        if m.reassignment_count is not None:
            out.append((("reassignment_count",), m.reassignment_count))
        out += [(("open_attributes", i), c) for i, c in enumerate(m.open_attributes)]
        return out

    def check_header(self, header: list[str], log: str) -> None:
        """Raise ConfigError naming the mapping line of the first column the log lacks."""
        have = set(header)
        for path, column in self.columns():
            if column not in have:
                shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
                raise self.doc.error(path, f"column {column!r} is not in {log} "
                                           f"(its columns: {shown})")

    def where(self, field: str) -> str:
        """file:line of a field of the mapping, for messages about the log's values."""
        line = self.doc.line_of((field,))
        return f"{self.doc.file}:{line}" if line else self.doc.file


def load_mapping(name_or_path: str) -> LoadedMapping:
    """A mapping from a YAML file, or the name of a bundled one (e.g. `servicenow`)."""
    path = Path(name_or_path)
    if not path.is_file():
        bundled = BUNDLED / f"{name_or_path}.yaml"
        if not bundled.is_file():
            known = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.yaml")))
            raise ConfigError(f"no mapping file here and no bundled mapping of that name "
                              f"(bundled: {known})", file=name_or_path)
        path = bundled
    doc = load_yaml(path)
    mapping = doc.validate(Mapping)
    if mapping.resolved_at is None and mapping.closed_at is None:
        raise doc.error(("resolved_at",), "a mapping needs resolved_at or closed_at: the "
                                          "replay learns only from cases known to be over")
    for key in ("updated_at", "opened_at", "resolved_at", "closed_at"):
        column = getattr(mapping, key)
        if column is None:
            continue
        try:
            ZoneInfo(column.timezone)
        except (KeyError, ValueError) as exc:
            raise doc.error((key, "timezone"), f"unknown time zone {column.timezone!r}") \
                from exc
    return LoadedMapping(mapping, doc)


def bad_value(log: str, row: int, column: str, value: str, problem: str,
              mapping: LoadedMapping, field: str) -> InputError:
    """An error for one value of the log, naming the row, the column and the mapping line."""
    return InputError(f"{log}:{row}: column {column!r}: {value!r} {problem} "
                      f"(mapping {mapping.where(field)})")
