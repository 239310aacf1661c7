"""QueueConnector: one work item per idempotency key."""

from __future__ import annotations

from datetime import UTC, datetime

from baton.execution.port import ActionRequest
from baton.execution.queue import QueueConnector, WorkItem
from baton.model import Action

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def request(key: str = "k-1", kind: str = "restart", resource: str = "svc-a") -> ActionRequest:
    """Build a request for one action."""
    return ActionRequest(
        idempotency_key=key,
        action=Action(kind=kind, resource=resource),
        decision="d-1",
        domain="ops",
        at=AT,
    )


def test_an_action_becomes_a_work_item_kept_in_memory() -> None:
    queue = QueueConnector()
    result = queue.execute(request())
    assert result.ok
    assert result.response == {"key": "k-1", "title": "restart svc-a", "duplicate": False}
    assert queue.items == [
        WorkItem(
            key="k-1",
            title="restart svc-a",
            action=Action(kind="restart", resource="svc-a"),
            domain="ops",
            decision="d-1",
            created=AT,
        )
    ]


def test_repeating_a_key_adds_nothing() -> None:
    queue = QueueConnector()
    assert queue.execute(request(key="k-1")).ok
    again = queue.execute(request(key="k-1"))
    assert again.ok
    assert again.response["duplicate"] is True
    assert "already queued" in again.detail
    assert len(queue.items) == 1


def test_different_keys_add_separate_items() -> None:
    queue = QueueConnector()
    queue.execute(request(key="k-1"))
    queue.execute(request(key="k-2", kind="drain", resource="node-7"))
    assert [item.title for item in queue.items] == ["restart svc-a", "drain node-7"]


def test_a_sink_receives_each_new_item_once() -> None:
    received: list[WorkItem] = []
    queue = QueueConnector(sink=received.append)
    queue.execute(request(key="k-1"))
    queue.execute(request(key="k-1"))
    assert [item.key for item in received] == ["k-1"]
    assert queue.items == []


def test_a_failing_sink_reports_failure_and_lets_the_key_be_retried() -> None:
    received: list[WorkItem] = []
    calls = 0

    def flaky(item: WorkItem) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("store unavailable")
        received.append(item)

    queue = QueueConnector(sink=flaky)
    failed = queue.execute(request())
    assert not failed.ok
    assert "store unavailable" in failed.detail
    assert queue.execute(request()).ok
    assert [item.key for item in received] == ["k-1"]


def test_the_queue_connector_is_idempotent() -> None:
    assert QueueConnector.idempotent is True
    assert QueueConnector.name == "queue"
