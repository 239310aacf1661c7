"""Command connector: runs a configured program per action kind, never through a shell.

Argument templates
------------------
`argv` maps an action kind to a list of argument templates. Each template becomes
exactly ONE argument of the child process (no word splitting, no shell), after
these placeholders are replaced:

    {kind}           the action kind
    {resource}       the action resource
    {resource_type}  the action resource type
    {key}            the idempotency key
    {decision}       the id of the decision that allowed the action
    {domain}         the domain of the request
    {param_NAME}     action.params["NAME"]: strings as they are, other values as JSON

Write ``{{`` and ``}}`` for literal braces. Placeholders are plain names only (no
attribute access, indexing, conversions or format specs); anything else is rejected
when the connector is built. Substituted values are never parsed again, so a resource
named ``a; rm -rf /`` or ``{key}`` reaches the child as that literal text.

The child also gets the idempotency key in the environment variable
``BATON_IDEMPOTENCY_KEY``.
"""

from __future__ import annotations

import json
import os
import signal
import string
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from baton.execution.port import ActionRequest, Connector, ExecResult

KEY_ENV_VAR = "BATON_IDEMPOTENCY_KEY"
FIELDS = frozenset({"kind", "resource", "resource_type", "key", "decision", "domain"})
PARAM_PREFIX = "param_"
_TAIL_CHARS = 1000
_REAP_TIMEOUT_S = 2.0

# One template: literal text and placeholder names, in order.
_Parsed = tuple[tuple[str, str | None], ...]


class MissingParamError(KeyError):
    """A template refers to {param_NAME} but the action has no param NAME."""


def _parse_template(template: str) -> _Parsed:
    """Split one argument template into (literal, placeholder) pairs; ValueError if invalid."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed argument template {template!r}: {exc}") from exc
    parsed: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parts:
        if field is not None:
            if spec or conversion:
                raise ValueError(
                    f"argument template {template!r}: {{{field}}} may not use "
                    "a conversion or format spec"
                )
            is_param = field.startswith(PARAM_PREFIX) and len(field) > len(PARAM_PREFIX)
            if field not in FIELDS and not is_param:
                raise ValueError(
                    f"argument template {template!r}: unknown placeholder {{{field}}}; "
                    f"allowed: {sorted(FIELDS)} and {{param_NAME}}"
                )
        parsed.append((literal, field))
    return tuple(parsed)


def _render_value(value: Any) -> str:
    """Render a param value as one argument: strings verbatim, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def render_args(templates: Sequence[_Parsed], request: ActionRequest) -> list[str]:
    """Fill parsed templates from a request; raise MissingParamError for an absent param."""
    action = request.action
    values = {
        "kind": action.kind,
        "resource": action.resource,
        "resource_type": action.resource_type,
        "key": request.idempotency_key,
        "decision": request.decision,
        "domain": request.domain,
    }
    args: list[str] = []
    for parsed in templates:
        pieces: list[str] = []
        for literal, field in parsed:
            pieces.append(literal)
            if field is None:
                continue
            if field in values:
                pieces.append(values[field])
                continue
            name = field[len(PARAM_PREFIX) :]
            if name not in action.params:
                raise MissingParamError(name)
            pieces.append(_render_value(action.params[name]))
        args.append("".join(pieces))
    return args


def _tail(data: bytes | None) -> str:
    """Decode the last part of a captured stream."""
    text = (data or b"").decode("utf-8", errors="replace")
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


class CommandConnector(Connector):
    """Runs ``argv[action.kind]`` (templates filled in, see module docstring) as a child process.

    Exit code 0 is success. A kind with no configured argv, a missing param, a program
    that cannot be started, a non-zero exit or a timeout all give ok=False. `env` adds
    variables to the inherited environment (or replaces it when `inherit_env` is False).
    On POSIX the child runs in its own session and the whole process group is killed on
    timeout, so grandchildren holding the output pipes cannot hang the connector.
    """

    name = "command"
    idempotent = False

    def __init__(
        self,
        *,
        argv: Mapping[str, Sequence[str]],
        timeout_s: float = 30.0,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        cwd: str | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        templates: dict[str, tuple[_Parsed, ...]] = {}
        for kind, args in argv.items():
            if isinstance(args, str) or not args:
                raise ValueError(f"argv for kind {kind!r} must be a non-empty list of strings")
            templates[kind] = tuple(_parse_template(arg) for arg in args)
        self._templates = templates
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.inherit_env = inherit_env
        self.cwd = cwd

    def command_for(self, request: ActionRequest) -> list[str] | None:
        """Return the argument list for a request, or None if its kind has no argv."""
        templates = self._templates.get(request.action.kind)
        return None if templates is None else render_args(templates, request)

    def _child_env(self, key: str) -> dict[str, str]:
        """Return the child's environment, with the idempotency key exported."""
        base = dict(os.environ) if self.inherit_env else {}
        return {**base, **self.env, KEY_ENV_VAR: key}

    def execute(self, request: ActionRequest) -> ExecResult:
        """Run the command for the action once; never raise for target failures."""
        kind = request.action.kind
        try:
            args = self.command_for(request)
        except MissingParamError as exc:
            return ExecResult(
                ok=False,
                attempts=0,
                detail=f"action {kind!r} has no param {exc.args[0]!r} "
                f"needed by {{{PARAM_PREFIX}{exc.args[0]}}}",
            )
        if args is None:
            return ExecResult(
                ok=False, attempts=0, detail=f"no command configured for action kind {kind!r}"
            )
        return self._run(args, request.idempotency_key)

    def _run(self, args: list[str], key: str) -> ExecResult:
        """Run one argument list with the timeout and report the outcome."""
        posix = sys.platform != "win32"
        try:
            proc = subprocess.Popen(
                args,
                shell=False,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._child_env(key),
                cwd=self.cwd,
                start_new_session=posix,
            )
        except (OSError, ValueError) as exc:
            return ExecResult(ok=False, detail=f"could not start {args[0]!r}: {exc}")
        with proc:
            try:
                stdout, stderr = proc.communicate(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self._kill(proc, posix)
                late_stderr = self._reap(proc)
                detail = f"timed out after {self.timeout_s}s"
                return ExecResult(
                    ok=False,
                    detail=f"{detail}: {_tail(late_stderr)}" if late_stderr else detail,
                    response={"exit_code": None, "stderr": _tail(late_stderr)},
                )
        code = proc.returncode
        response = {"exit_code": code, "stdout": _tail(stdout), "stderr": _tail(stderr)}
        if code == 0:
            return ExecResult(ok=True, detail="exit code 0", response=response)
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        detail = f"{reason}: {_tail(stderr)}" if stderr else reason
        return ExecResult(ok=False, detail=detail, response=response)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], posix: bool) -> None:
        """Kill the child and, on POSIX, its whole process group."""
        try:
            if posix:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:
            pass

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> bytes | None:
        """Collect a killed child's stderr without hanging on pipes held by escaped children."""
        try:
            _, stderr = proc.communicate(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
        return stderr
