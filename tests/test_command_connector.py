"""CommandConnector with real child processes."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from baton.execution.command import KEY_ENV_VAR, CommandConnector
from baton.execution.port import ActionRequest, ExecResult
from baton.model import Action

PY = sys.executable
# A child that prints its arguments and some of its environment, as JSON. Braces in
# templates are placeholders, so the script writes its literal braces as {{ and }}.
ECHO = [
    PY,
    "-c",
    "import json, os, sys; print(json.dumps({{'argv': sys.argv[1:], "
    f"'key': os.environ.get('{KEY_ENV_VAR}'), 'extra': os.environ.get('BATON_TEST_EXTRA'), "
    "'home': os.environ.get('HOME')}}))",
]


def request(
    kind: str = "restart", resource: str = "svc-a", key: str = "k-1", **params: Any
) -> ActionRequest:
    """Build a request for one action."""
    return ActionRequest(
        idempotency_key=key,
        action=Action(kind=kind, resource=resource, params=params),
        decision="d-1",
        domain="ops",
        at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def echoed(result: ExecResult) -> dict[str, Any]:
    """Return what the ECHO child printed."""
    assert result.ok, result.detail
    printed: dict[str, Any] = json.loads(result.response["stdout"])
    return printed


def test_shell_metacharacters_in_a_resource_reach_the_child_as_one_literal_argument() -> None:
    nasty = "a; rm -rf / && echo $HOME `id` | cat > /tmp/x {key} 'q' \"dq\""
    conn = CommandConnector(argv={"restart": [*ECHO, "--resource", "{resource}", "n={resource}"]})
    result = conn.execute(request(resource=nasty))
    assert echoed(result)["argv"] == ["--resource", nasty, f"n={nasty}"]


def test_placeholders_are_filled_from_the_request() -> None:
    template = [
        *ECHO,
        "{kind}",
        "{resource}",
        "{resource_type}",
        "--key={key}",
        "{decision}/{domain}",
        "{param_reason}",
        "{param_replicas}",
        "{param_zones}",
        "{param_force}",
        "{{literal}}",
    ]
    conn = CommandConnector(argv={"scale": template})
    result = conn.execute(
        request(kind="scale", reason="load spike", replicas=3, zones=["a", "b"], force=True)
    )
    assert echoed(result)["argv"] == [
        "scale",
        "svc-a",
        "Service",
        "--key=k-1",
        "d-1/ops",
        "load spike",
        "3",
        '["a", "b"]',
        "true",
        "{literal}",
    ]
    assert result.attempts == 1


def test_the_idempotency_key_is_exported_to_the_child() -> None:
    conn = CommandConnector(argv={"restart": ECHO})
    assert echoed(conn.execute(request(key="key-42")))["key"] == "key-42"


def test_env_is_added_to_the_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/inherited")
    conn = CommandConnector(argv={"restart": ECHO}, env={"BATON_TEST_EXTRA": "yes"})
    seen = echoed(conn.execute(request()))
    assert seen["extra"] == "yes"
    assert seen["home"] == "/home/inherited"


def test_without_inherit_env_the_child_gets_only_the_given_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", "/home/inherited")
    conn = CommandConnector(
        argv={"restart": ECHO}, env={"BATON_TEST_EXTRA": "yes"}, inherit_env=False
    )
    seen = echoed(conn.execute(request(key="k-9")))
    assert seen == {"argv": [], "key": "k-9", "extra": "yes", "home": None}


def test_an_unconfigured_kind_fails_naming_it() -> None:
    conn = CommandConnector(argv={"restart": ECHO})
    result = conn.execute(request(kind="drain"))
    assert not result.ok
    assert "'drain'" in result.detail
    assert result.attempts == 0


def test_a_missing_param_fails_naming_it() -> None:
    conn = CommandConnector(argv={"restart": [*ECHO, "{param_reason}"]})
    result = conn.execute(request(other="x"))
    assert not result.ok
    assert "'reason'" in result.detail
    assert result.attempts == 0


def test_non_zero_exit_fails_with_exit_code_and_stderr_tail() -> None:
    script = "import sys; sys.stderr.write('START' + 'x' * 5000 + 'THE END'); sys.exit(3)"
    conn = CommandConnector(argv={"restart": [PY, "-c", script]})
    result = conn.execute(request())
    assert not result.ok
    assert "exit code 3" in result.detail
    assert result.detail.endswith("THE END")
    assert "START" not in result.detail
    assert result.response["exit_code"] == 3


def test_a_child_killed_by_a_signal_is_reported() -> None:
    script = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    conn = CommandConnector(argv={"restart": [PY, "-c", script]})
    result = conn.execute(request())
    assert not result.ok
    assert "killed by signal 15" in result.detail


def test_success_reports_exit_code_and_stdout() -> None:
    conn = CommandConnector(argv={"restart": [PY, "-c", "print('restarted')"]})
    result = conn.execute(request())
    assert result.ok
    assert result.response["exit_code"] == 0
    assert result.response["stdout"].strip() == "restarted"


def test_a_command_that_outlives_its_timeout_is_killed() -> None:
    conn = CommandConnector(
        argv={"restart": [PY, "-c", "import time; time.sleep(30)"]}, timeout_s=0.3
    )
    started = time.monotonic()
    result = conn.execute(request())
    assert not result.ok
    assert "timed out after 0.3s" in result.detail
    assert time.monotonic() - started < 3


def test_a_grandchild_holding_the_output_pipe_does_not_hang_the_connector() -> None:
    script = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])"
    )
    conn = CommandConnector(argv={"restart": [PY, "-c", script]}, timeout_s=0.3)
    started = time.monotonic()
    result = conn.execute(request())
    assert not result.ok
    assert "timed out" in result.detail
    # Killing only the child would leave the pipe open until the 2 s reap fallback.
    assert time.monotonic() - started < 1.8


def test_a_program_that_cannot_start_fails_without_raising() -> None:
    conn = CommandConnector(argv={"restart": ["/nonexistent/baton-no-such-program"]})
    result = conn.execute(request())
    assert not result.ok
    assert "could not start" in result.detail


@pytest.mark.parametrize(
    "template",
    [
        ["prog", "{bogus}"],
        ["prog", "{resource!r}"],
        ["prog", "{resource:>10}"],
        ["prog", "{resource.__class__}"],
        ["prog", "{resource[0]}"],
        ["prog", "{param_}"],
        ["prog", "{"],
        ["prog", "}"],
        [],
    ],
)
def test_bad_templates_are_rejected_when_built(template: list[str]) -> None:
    with pytest.raises(ValueError):
        CommandConnector(argv={"restart": template})


def test_a_bare_string_is_not_accepted_as_an_argument_list() -> None:
    with pytest.raises(ValueError):
        CommandConnector(argv={"restart": "rm -rf /"})


def test_the_connector_is_not_idempotent() -> None:
    assert CommandConnector(argv={}).idempotent is False
    assert CommandConnector.name == "command"
