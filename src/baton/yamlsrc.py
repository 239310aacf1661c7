"""YAML with line numbers, so config errors can name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from baton.errors import ConfigError

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
_SCALARS = yaml.constructor.SafeConstructor()


class Located:
    """A parsed YAML document plus the line of every node in it."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line_of(self, path: Path_) -> int | None:
        """Line (1-based) of the deepest node on `path` that exists."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None

    def error(self, path: Path_, message: str) -> ConfigError:
        """A ConfigError for the node at `path`."""
        return ConfigError(message, file=self.file, line=self.line_of(path),
                           field=format_path(path))

    def validate(self, model: type[M], path: Path_ = ()) -> M:
        """Validate the document (or the part at `path`) against a pydantic model."""
        node: Any = self.data
        for part in path:
            node = node[part]
        try:
            return model.model_validate(node)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            raise self.error(path + loc, first["msg"]) from exc


def format_path(path: Path_) -> str:
    """Render ('people', 3, 'timezone') as people[3].timezone."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node, deep=True)
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> Located:
    """Parse YAML text; a syntax error becomes a ConfigError with file and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", file=file, line=line) from exc
    lines: dict[Path_, int] = {}
    data = {} if root is None else _walk(root, (), lines)
    return Located(data, lines, file)


def load_yaml(path: Path) -> Located:
    """Read and parse one YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    return parse_yaml(text, str(path))
