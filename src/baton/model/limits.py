"""Input limits: what Baton accepts from outside, so that everything accepted can be stored,
read back and processed. Plain checks, no I/O.

Two walks over decoded JSON:

- `loads` reads a JSON document from outside (a request body, a line of `baton ingest`)
  strictly: UTF-8, a size limit, no duplicate keys, no NaN or Infinity, no number beyond
  what the store writes, no NUL or lone surrogate in any string, bounded nesting;
- `check_data` checks the attributes of one event (CloudEvents `data`, an event's `attrs`,
  Alertmanager labels) against the tighter limits below.

Every refusal is an `InputError` that names where the value came from, the field (a
path such as 'data.a.b[2]') and what is wrong with it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from baton.errors import InputError

if TYPE_CHECKING:
    from baton.model.events import Event

#: bytes of one request body, or of one line of `baton ingest`
MAX_BODY_BYTES = 1_048_576
#: events in one CloudEvents batch, alerts in one Alertmanager notification
MAX_BATCH = 1000
#: levels of nesting in an event's data: {"a": 1} is 1 level, {"a": {"b": [1]}} is 3
MAX_DEPTH = 32
#: levels of nesting of a whole JSON document: the data's limit and room for what is
#: around the data (a batch, an event, an alert); refusals still speak of MAX_DEPTH, which
#: the value refused is then deeper than too
MAX_JSON_DEPTH = MAX_DEPTH + 8
#: attributes of one event (top-level keys of its data)
MAX_ATTRS = 100
#: entries of any one object or array nested inside an event's data
MAX_ITEMS = 1000
#: characters of one string inside an event's data
MAX_STRING = 10_000
#: characters of one key inside an event's data
MAX_NAME = 100
#: characters of an event's key, type and entity as the store's events table holds them
#: (baton.store.schema: key String(200), type String(100), entity String(200)); the Event
#: model holds every event to these
STORE_KEY = 200
STORE_TYPE = 100
STORE_ENTITY = 200
#: characters of the key and type of an event accepted from outside
MAX_KEY = STORE_KEY
MAX_TYPE = STORE_TYPE
#: characters of the entity of an event accepted from outside: less than the column, as an
#: action on the entity is stored under a key derived from it (`<decision>:<step>:<kind>:
#: <entity>` in columns of 200), which needs room for the rest
MAX_ENTITY = 128
#: characters of an event's source; a CloudEvent's key is `source:id`, so `id` gets the rest
MAX_SOURCE = 100
MAX_ID = MAX_KEY - MAX_SOURCE - 1
#: integers the store's encoder writes and Cedar reads: signed 64 bits
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
#: magnitude of a number: squares and sums of accepted numbers stay finite floats
MAX_NUMBER = 1e100
#: event times (UTC), from the Unix epoch to the end of year 2200. Later stages add SLA
#: minutes, windows and escalation deadlines to an event's time; from this range none of
#: that comes near the bounds of Python's datetime (years 1 to 9999).
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
END_TIME = datetime(2201, 1, 1, tzinfo=UTC)  # the first instant refused

Path = tuple[str | int, ...]
#: turns the path of a refused value into the start of the message ("event 3: field 'x'")
Locator = Callable[[Path], str]

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_SHOWN_PATH = 100  # characters of a path shown in a message


class _Refused(Exception):
    """Raised inside a walk: the path of the refused value and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


class _Twice(dict[str, Any]):
    """A JSON object in which some key appeared more than once (the last value kept)."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.twice = key


class _Number:
    """A number JSON allows but Baton does not store: NaN, Infinity, too many digits."""

    def __init__(self, text: str) -> None:
        self.text = text


def field_path(path: Path) -> str:
    """A path as people write it: data.a.b[2].c (long ones cut short)."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if i else p
                   for i, p in enumerate(path))
    return text if len(text) <= _SHOWN_PATH else text[:_SHOWN_PATH - 3] + "..."


def locator(where: str) -> Locator:
    """The plain locator: "`where`: field 'a.b'", or `where` alone for the whole value."""

    def locate(path: Path) -> str:
        if not path:
            return where or "the value"
        named = f"field {field_path(path)!r}"
        return f"{where}: {named}" if where else named

    return locate


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """What is wrong with a string Baton would store, or None."""
    bad = _BAD_CHARACTER.search(value)
    if bad is not None:
        if bad.group() == "\x00":
            return "contains a NUL character (\\u0000)"
        return (f"contains a lone surrogate (\\u{ord(bad.group()):04x}), "
                "which is not Unicode text")
    if max_length is not None and len(value) > max_length:
        return f"is longer than {max_length} characters ({len(value)})"
    return None


def number_problem(value: float) -> str | None:
    """What is wrong with a number Baton would store, or None (booleans are fine)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if MIN_INT <= value <= MAX_INT:
            return None
        return "is an integer beyond 64 bits"
    if not math.isfinite(value):
        return f"is {value}, which is not a number JSON can carry"
    if abs(value) > MAX_NUMBER:
        return f"is a number beyond {MAX_NUMBER:g} in magnitude"
    return None


def time_problem(value: datetime) -> str | None:
    """What is wrong with an event time, or None; never overflows converting it to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must carry a time zone (e.g. 2026-01-01T00:00:00Z)"
    # Within a year of the range, comparing in UTC cannot leave datetime's range.
    near = MIN_TIME.year - 1 <= value.year <= END_TIME.year
    if not near or not MIN_TIME <= value < END_TIME:
        return (f"is {value.isoformat()}; accepted times lie from "
                f"{MIN_TIME:%Y-%m-%d} to the end of {END_TIME.year - 1} (UTC)")
    return None


def _plain(value: Any, sizes: bool) -> bool:
    """Whether `value` is a scalar that passes every check: the common case, made quick."""
    kind = type(value)
    if kind is str:
        return _BAD_CHARACTER.search(value) is None and (not sizes or len(value) <= MAX_STRING)
    if kind is float:
        return bool(-MAX_NUMBER <= value <= MAX_NUMBER)  # (False for NaN)
    if kind is int:
        return bool(MIN_INT <= value <= MAX_INT)
    return value is None or kind is bool


def _plain_name(key: Any, sizes: bool) -> bool:
    return type(key) is str and _BAD_CHARACTER.search(key) is None and (
        not sizes or len(key) <= MAX_NAME)


def _walk(value: Any, path: Path, level: int, depth: int, sizes: bool) -> None:
    """Check a decoded value; `level` is the number of containers around it."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        problem = text_problem(value, MAX_STRING if sizes else None)
        if problem:
            raise _Refused(path, problem)
    elif isinstance(value, int | float):
        problem = number_problem(value)
        if problem:
            raise _Refused(path, problem)
    elif isinstance(value, dict):
        _container(value, path, level, depth, sizes)
        if isinstance(value, _Twice):
            raise _Refused(path, f"has the key {value.twice!r} more than once")
        for key, item in value.items():
            if not _plain_name(key, sizes):
                if not isinstance(key, str):
                    raise _Refused(path, f"has a key that is not a string ({key!r})")
                problem = text_problem(key, MAX_NAME if sizes else None)
                raise _Refused((*path, key), f"has a name that {problem}")
            if not _plain(item, sizes):
                _walk(item, (*path, key), level + 1, depth, sizes)
    elif isinstance(value, list | tuple):
        _container(value, path, level, depth, sizes)
        for i, item in enumerate(value):
            if not _plain(item, sizes):
                _walk(item, (*path, i), level + 1, depth, sizes)
    elif isinstance(value, _Number):
        raise _Refused(path, f"is {value.text[:30]}, which is not a number Baton stores "
                             "(NaN, Infinity and numbers beyond 64 bits are refused)")
    else:
        raise _Refused(path, f"holds a {type(value).__name__}, which is not a JSON value")


def _container(value: dict[Any, Any] | list[Any] | tuple[Any, ...], path: Path, level: int,
               depth: int, sizes: bool) -> None:
    if level >= depth:
        raise _Refused(path, f"is nested deeper than {min(depth, MAX_DEPTH)} levels")
    if sizes:
        most = MAX_ATTRS if level == 0 and isinstance(value, dict) else MAX_ITEMS
        if len(value) > most:
            kind = "keys" if isinstance(value, dict) else "items"
            raise _Refused(path, f"has {len(value)} {kind}; at most {most} are accepted")


def check_data(value: Any, where: str, field: str, *, depth: int = MAX_DEPTH) -> None:
    """Refuse an event's data (attributes) beyond the limits; `field` names it ('data').

    `depth` is less than MAX_DEPTH for a value that ends up nested inside the attributes
    (the parameters of an answer: attrs.params)."""
    if not isinstance(value, dict):
        raise InputError(f"{locator(where)((field,))} must be a JSON object, "
                         f"not {type(value).__name__}")
    try:
        _walk(value, (field,), 0, depth, sizes=True)
    except _Refused as refused:
        raise InputError(f"{locator(where)(refused.path)} {refused.problem}") from None


def check_event(event: Event, where: str) -> None:
    """Refuse an event (already a valid Event) beyond the limits of input from outside."""
    problem = text_problem(event.entity, MAX_ENTITY)
    if problem:
        raise InputError(f"{where}: field 'entity' {problem}")
    check_data(event.attrs, where, "attrs")


def data_problem(value: dict[str, Any], field: str) -> str | None:
    """What makes an event's attributes unprocessable, or None.

    The model's own rule, looser than `check_data`: nesting, JSON types, numbers, NUL and
    surrogates, but no sizes, so that events read back from a log always load.
    """
    try:
        _walk(value, (field,), 0, MAX_DEPTH, sizes=False)
    except _Refused as refused:
        return f"field {field_path(refused.path)!r} {refused.problem}"
    return None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Twice(pairs, key)
        seen.add(key)
    return found  # (not reached: the lengths differ only when a key repeats)


def _float(text: str) -> float | _Number:
    value = float(text)
    return value if math.isfinite(value) else _Number(text)


def _int(text: str) -> int | _Number:
    # beyond 20 digits it is out of range anyway; never convert thousands of digits
    return int(text) if len(text) <= 20 else _Number(text)


def loads(raw: str | bytes, where: str = "", locate: Locator | None = None) -> Any:
    """Decode one JSON document from outside, refusing what Baton could not store.

    `locate` names the path of a refused value (default: "`where`: field 'a.b'")."""
    locate = locate or locator(where)
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise InputError(f"{locate(())} is {size} bytes; at most {MAX_BODY_BYTES} are accepted")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{locate(())} is not UTF-8 text (byte {raw[exc.start]:#04x} "
                             f"at offset {exc.start})") from None
    else:
        text = raw
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_float=_float,
                           parse_int=_int, parse_constant=_Number)
    except json.JSONDecodeError as exc:
        raise InputError(f"{locate(())}: malformed JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    except RecursionError:
        raise InputError(f"{locate(())} is nested deeper than {MAX_DEPTH} levels") from None
    try:
        _walk(value, (), 0, MAX_JSON_DEPTH, sizes=False)
    except _Refused as refused:
        raise InputError(f"{locate(refused.path)} {refused.problem}") from None
    return value
