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
TIME_FIELDS = ("updated_at", "opened_at", "resolved_at", "closed_at")


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


class RoutingSettings(_Strict):
    """How much of the log trains, calibrates and tests the router (None: from the log)."""

    test_share: float = Field(default=0.3, gt=0, lt=1)
    holdout_share: float = Field(default=0.2, gt=0, lt=1)
    min_train: int | None = Field(default=None, ge=1)
    min_holdout: int | None = Field(default=None, ge=1)
    window: int = Field(default=6000, ge=10)
    refit_every_hours: float | None = Field(default=None, gt=0)
    min_new_outcomes: int | None = Field(default=None, ge=1)
    stable_alpha: float | None = Field(default=0.01, gt=0, lt=1)  # None: routes move freely
    stable_floor: float = Field(default=0.05, ge=0, lt=1)
    stable_young: int = Field(default=5, ge=0)  # 0: no route is young
    stable_young_alpha: float = Field(default=0.25, gt=0, lt=1)


class Mapping(_Strict):
    """How to read one kind of log."""

    name: str
    format: Literal["csv", "jsonl"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    missing: list[str] = Field(default_factory=lambda: ["", "?"])
    case: str
    updated_at: TimeColumn
    opened_at: TimeColumn | None = None  # else the first row's update time
    resolved_at: TimeColumn | None = None  # else the first row in a resolved state
    closed_at: TimeColumn | None = None  # when the case closed for good (else resolved)
    state: str
    group: str | None = None  # None: the log has no handling group; routing is not measured
    resolved_states: list[str] = Field(min_length=1)
    waiting_states: list[str] = Field(default_factory=list)
    open_attributes: list[str] = Field(min_length=1)
    class_by: list[str] | None = None  # promotion classes; None: chosen from the log
    reassignment_count: str | None = None  # a column counting reassignments, if the log has one
    domain: str = "support"
    routing: RoutingSettings = Field(default_factory=RoutingSettings)


class LoadedMapping:
    """A mapping with the file it came from, so errors can name its lines."""

    def __init__(self, mapping: Mapping, doc: Located) -> None:
        self.mapping = mapping
        self.doc = doc

    def columns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every column the mapping names, with the path of its key in the file."""
        m = self.mapping
        out: list[tuple[tuple[str | int, ...], str]] = [(("case",), m.case), (("state",), m.state)]
        for key in TIME_FIELDS:
            column = getattr(m, key)
            if column is not None:
                out.append(((key, "column"), column.column))
        for key in ("group", "reassignment_count"):
            if getattr(m, key) is not None:
                out.append(((key,), getattr(m, key)))
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
    for key in TIME_FIELDS:
        column = getattr(mapping, key)
        if column is None:
            continue
        try:
            ZoneInfo(column.timezone)
        except (KeyError, ValueError) as exc:
            raise doc.error((key, "timezone"), f"unknown time zone {column.timezone!r}") \
                from exc
    _check_roles(mapping, doc)
    return LoadedMapping(mapping, doc)


def _check_roles(m: Mapping, doc: Located) -> None:
    """Refuse a group that is really another field, and classes that are not attributes."""
    if m.group is not None:
        others = {m.case: "the case id", m.state: "the state"}
        others.update({getattr(m, k).column: f"the {k} time" for k in TIME_FIELDS
                       if getattr(m, k) is not None})
        if m.group in others:
            raise doc.error(("group",), f"column {m.group!r} is {others[m.group]}, not a "
                                        "handling group: routing measured on it would mean "
                                        "nothing. Name the column of the team that handled "
                                        "each row, or leave `group` out")
        if m.group in m.open_attributes:
            i = m.open_attributes.index(m.group)
            raise doc.error(("open_attributes", i), f"column {m.group!r} is the group: it "
                                                    "cannot also be known when a case opens")
    for i, name in enumerate(m.class_by or []):
        if name not in m.open_attributes:
            raise doc.error(("class_by", i), f"{name!r} is not one of open_attributes")


def bad_value(log: str, row: int, column: str, value: str, problem: str,
              mapping: LoadedMapping, field: str) -> InputError:
    """An error for one value of the log, naming the row, the column and the mapping line."""
    return InputError(f"{log}:{row}: column {column!r}: {value!r} {problem} "
                      f"(mapping {mapping.where(field)})")
