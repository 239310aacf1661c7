"""Read a recorded log (CSV or JSON lines, plain or gzip) row by row, checked as it goes."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from baton.errors import InputError
from baton.replay.mapping import LoadedMapping, TimeColumn, bad_value


def _open(path: Path) -> IO[str]:
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="utf-8", newline="")
        return path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def read_rows(path: Path, loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, the mapped columns as text) for every row; missing values become ''.

    The header is checked against the mapping before the first row; every timestamp is
    checked as it is read, and an error names the row, the column and the mapping line.
    """
    m = loaded.mapping
    wanted = [column for _, column in loaded.columns()]
    missing = set(m.missing)
    times = [("updated_at", m.updated_at), ("opened_at", m.opened_at)]
    times += [(key, getattr(m, key)) for key in ("resolved_at", "closed_at")
              if getattr(m, key) is not None]
    source = _csv_rows if m.format == "csv" else _jsonl_rows
    with _open(path) as text:
        for n, raw in source(text, path, loaded):
            values = {c: ("" if raw.get(c, "") in missing else raw.get(c, "")) for c in wanted}
            _check_times(values, times, path, n, loaded)
            yield n, values


def _csv_rows(text: IO[str], path: Path,
              loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(text, delimiter=loaded.mapping.delimiter)
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: the log is empty")
    loaded.check_header(header, path.name)
    for n, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise InputError(f"{path}:{n}: {len(row)} fields where the header has "
                             f"{len(header)}")
        yield n, dict(zip(header, row, strict=True))


def _jsonl_rows(text: IO[str], path: Path,
                loaded: LoadedMapping) -> Iterator[tuple[int, dict[str, str]]]:
    checked = False
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: malformed JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{n}: each line must be a JSON object")
        if not checked:
            loaded.check_header(list(obj), path.name)
            checked = True
        yield n, {k: "" if v is None else str(v) for k, v in obj.items()}


def _check_times(values: dict[str, str], times: list[tuple[str, TimeColumn]], path: Path,
                 n: int, loaded: LoadedMapping) -> None:
    for field, spec in times:
        text = values[spec.column]
        if not text:
            if field in ("resolved_at", "closed_at"):
                continue
            raise bad_value(str(path), n, spec.column, text, "is missing", loaded, field)
        try:
            spec.parse(text)
        except ValueError as exc:
            raise bad_value(str(path), n, spec.column, text,
                            f"does not match format {spec.format!r}: {exc}", loaded,
                            field) from exc
