"""Read a recorded log (CSV or JSON lines, plain or gzip) row by row, checked as it goes."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson

from baton.errors import InputError
from baton.replay.mapping import TIME_FIELDS, LoadedMapping, TimeColumn, bad_value

ISO = "%Y-%m-%dT%H:%M:%S%z"
BOM = "\ufeff"
PROBE = 1000  # JSON lines whose keys are pooled to check the mapping's columns


def time_key(field: str) -> str:
    """The key under which a row carries a mapped time field, parsed, as ISO text."""
    return f"@{field}"


def _open(path: Path) -> IO[str]:
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def read_rows(path: Path, loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, the mapped columns as text) for every row; missing values become ''.

    The header is checked against the mapping before the first row; every timestamp is
    checked as it is read, and an error names the row, the column and the mapping line.
    Each mapped time field is also given parsed, as ISO text under `time_key(field)`, so
    one column may feed several fields in different formats.
    """
    m = loaded.mapping
    wanted = [column for _, column in loaded.columns()]
    missing = set(m.missing)
    times = [(key, getattr(m, key)) for key in TIME_FIELDS if getattr(m, key) is not None]
    source = _csv_rows if m.format == "csv" else _jsonl_rows
    try:
        with _open(path) as text:
            for n, raw in source(text, path, loaded):
                values = {c: ("" if raw.get(c, "") in missing else raw.get(c, ""))
                          for c in wanted}
                _add_times(values, times, path, n, loaded)
                yield n, values
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc


def _csv_rows(text: IO[str], path: Path,
              loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(text, delimiter=loaded.mapping.delimiter)
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: the log is empty")
    header = [name.strip().lstrip(BOM) for name in header]
    loaded.check_header(header, path.name)
    for n, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise InputError(f"{path}:{n}: {len(row)} fields where the header has "
                             f"{len(header)}")
        yield n, dict(zip(header, row, strict=True))


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested JSON objects as dotted paths (`fields.status.name`); lists stay JSON text."""
    out: dict[str, str] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out[name] = ""
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = orjson.dumps(value).decode()
        else:
            out[name] = "" if value is None else str(value)
    return out


def _jsonl_objects(text: IO[str], path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line.lstrip(BOM))
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: malformed JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object")
        yield n, flatten(obj)


def _jsonl_rows(text: IO[str], path: Path,
                loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    rows = _jsonl_objects(text, path)
    first = list(islice(rows, PROBE))
    if not first:
        raise InputError(f"{path}: the log is empty")
    keys = list(dict.fromkeys(k for _, obj in first for k in obj))
    loaded.check_header(keys, path.name)
    yield from first
    yield from rows


@lru_cache(maxsize=1 << 18)
def _iso(fmt: str, zone: str, text: str) -> str:
    return TimeColumn(column="", format=fmt, timezone=zone).parse(text).strftime(ISO)


def _add_times(values: dict[str, str], times: list[tuple[str, TimeColumn]], path: Path,
               n: int, loaded: LoadedMapping) -> None:
    for field, spec in times:
        text = values[spec.column]
        if not text:
            if field == "updated_at":
                raise bad_value(str(path), n, spec.column, text, "is missing", loaded, field)
            values[time_key(field)] = ""
            continue
        try:
            values[time_key(field)] = _iso(spec.format, spec.timezone, text)
        except ValueError as exc:
            raise bad_value(str(path), n, spec.column, text,
                            f"does not match format {spec.format!r}: {exc}", loaded,
                            field) from exc
