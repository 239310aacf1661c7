"""The bus: NATS JetStream, through nats-py, behind a small synchronous facade.

Streams, per namespace (the bus URL's `?ns=`, default `baton`):
- `<NS>_EVENTS_<CELL>`: every event accepted for a cell, in the order the cell's sequencer
  decides them. A publish carries `Nats-Msg-Id` = the event's idempotency key, so a client
  that retries gets one message. The sequencer reads it with an ephemeral consumer from the
  stream position it stored with the events it appended, so a new leader starts exactly
  where the last commit ended.
- `<NS>_EFFECTS`: the effects to carry out, a work queue shared by every worker through
  one durable consumer; an effect held by a worker that dies is delivered again once the
  ack wait passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from baton.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)

#: how long the bus remembers a message id to drop a duplicate publish (seconds)
DUPLICATE_WINDOW_S = 600.0
#: how long a worker may hold an effect without a sign of progress before it goes to
#: another worker
ACK_WAIT_S = 30.0
#: the durable consumer every worker shares
WORKERS = "workers"
_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Message:
    """One message read from a stream: its payload, stream position and ack handle."""

    data: bytes
    seq: int
    subject: str
    handle: Any  # the nats-py message, for ack / in_progress


def _token(name: str) -> str:
    return _NAME.sub("_", name).upper()


class Bus:
    """A connection to NATS JetStream, used from any thread of a synchronous process."""

    def __init__(self, url: str, *, timeout: float = 10.0, ack_wait: float = ACK_WAIT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls"):
            raise ConfigError(f"bus URL {url!r}: expected nats://HOST:PORT[?ns=NAME]",
                              field="--bus")
        self.ns = (parse_qs(parts.query).get("ns") or ["baton"])[0]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.ns):
            raise ConfigError(f"bus URL {url!r}: ns must be 1 to 40 letters, digits, - or _",
                              field="--bus")
        self.server = f"{parts.scheme}://{parts.netloc}"
        self.url = url
        self.timeout = timeout
        self.ack_wait = ack_wait
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="baton-bus",
                                        daemon=True)
        self._thread.start()
        async def quiet(exc: Exception) -> None:  # nats-py would print a traceback each
            log.warning("bus %s: %s: %s", self.server, type(exc).__name__, exc)  # retry

        async def connect() -> Any:
            return await asyncio.wait_for(nats.connect(
                self.server, connect_timeout=min(timeout, 5.0), max_reconnect_attempts=-1,
                reconnect_time_wait=0.5, error_cb=quiet), timeout)

        try:
            self._nc = self._run(connect())
        except Exception as exc:
            self._stop_loop()
            why = f"{type(exc).__name__}: {exc}" if str(exc) else "no answer"
            raise ConfigError(f"bus {self.server}: cannot connect within {timeout:g} s "
                              f"({why}); is NATS running with JetStream (-js)?",
                              field="--bus") from exc
        self.js: JetStreamContext = self._nc.jetstream(timeout=timeout)
        self._streams: set[str] = set()

    # -- plumbing -----------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout if timeout is not None else self.timeout + 5)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def close(self) -> None:
        """Drain and close the connection."""
        with contextlib.suppress(Exception):  # already gone
            self._run(self._nc.close(), timeout=5)
        self._stop_loop()

    # -- names --------------------------------------------------------------------------

    def events_stream(self, cell: str) -> str:
        """The stream that holds a cell's events."""
        return f"{_token(self.ns)}_EVENTS_{_token(cell)}"

    def events_subject(self, cell: str) -> str:
        """The subject events for a cell are published on."""
        return f"baton.{self.ns}.events.{cell}"

    @property
    def effects_stream(self) -> str:
        """The work-queue stream of effects."""
        return f"{_token(self.ns)}_EFFECTS"

    def effects_subject(self, cell: str) -> str:
        """The subject a cell's effects are published on."""
        return f"baton.{self.ns}.effects.{cell}"

    def _ensure(self, name: str, subjects: list[str], *, work_queue: bool = False) -> None:
        if name in self._streams:
            return
        config = StreamConfig(name=name, subjects=subjects, storage=StorageType.FILE,
                              duplicate_window=DUPLICATE_WINDOW_S,
                              retention=RetentionPolicy.WORK_QUEUE if work_queue
                              else RetentionPolicy.LIMITS)

        async def ensure() -> None:
            try:
                await self.js.stream_info(name)
            except NotFoundError:
                await self.js.add_stream(config)

        self._run(ensure())
        self._streams.add(name)

    def ensure_cell(self, cell: str) -> None:
        """Create the cell's event stream and the effects stream when missing."""
        self._ensure(self.events_stream(cell), [self.events_subject(cell)])
        self._ensure(self.effects_stream, [f"baton.{self.ns}.effects.>"], work_queue=True)

    # -- publishing ---------------------------------------------------------------------

    def publish(self, subject: str, items: list[tuple[str, bytes]]) -> list[bool]:
        """Publish (message id, payload) pairs and wait until JetStream stored each;
        per item, False when the bus already had that id (a duplicate)."""

        async def send() -> list[bool]:
            acks = await asyncio.gather(*(
                self.js.publish(subject, payload, headers={"Nats-Msg-Id": key})
                for key, payload in items))
            return [not ack.duplicate for ack in acks]

        return self._run(send())

    def publish_events(self, cell: str, items: list[tuple[str, bytes]]) -> list[bool]:
        """Publish events (key, JSON body) for a cell durably."""
        self.ensure_cell(cell)
        return self.publish(self.events_subject(cell), items)

    def publish_effects(self, cell: str, items: list[tuple[str, bytes]]) -> list[bool]:
        """Publish effects (key, JSON body) of a cell to the work queue durably."""
        self.ensure_cell(cell)
        return self.publish(self.effects_subject(cell), items)

    # -- reading ------------------------------------------------------------------------

    def events_reader(self, cell: str, *, after: int) -> EventsReader:
        """Read a cell's events in stream order from position `after` + 1."""
        self.ensure_cell(cell)
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                opt_start_seq=after + 1, ack_policy=AckPolicy.NONE,
                                inactive_threshold=60.0)
        sub = self._run(self.js.pull_subscribe(self.events_subject(cell), durable=None,
                                               stream=self.events_stream(cell),
                                               config=config))
        return EventsReader(self, sub)

    def effects_reader(self, cells: list[str]) -> EffectsReader:
        """The workers' shared, durable consumer of the effects work queue."""
        for cell in cells:
            self.ensure_cell(cell)
        config = ConsumerConfig(durable_name=WORKERS, ack_policy=AckPolicy.EXPLICIT,
                                ack_wait=self.ack_wait, max_ack_pending=10_000)
        sub = self._run(self.js.pull_subscribe(f"baton.{self.ns}.effects.>", durable=WORKERS,
                                               stream=self.effects_stream, config=config))
        return EffectsReader(self, sub)

    def fetch(self, sub: Any, batch: int, timeout: float) -> list[Message]:
        """Up to `batch` messages, waiting at most `timeout` s for the first."""

        async def pull() -> list[Any]:
            try:
                return list(await sub.fetch(batch, timeout=timeout))
            except (TimeoutError, NatsTimeout):
                return []

        msgs = self._run(pull(), timeout=timeout + self.timeout)
        return [Message(m.data, int(m.metadata.sequence.stream), m.subject, m) for m in msgs]

    def ack(self, message: Message) -> None:
        """Acknowledge a work-queue message: it is done and leaves the queue."""
        self._run(message.handle.ack())

    def working(self, message: Message) -> None:
        """Tell JetStream a held message is still being worked on (resets its ack wait)."""
        self._run(message.handle.in_progress())

    # -- state --------------------------------------------------------------------------

    def last_seq(self, cell: str) -> int:
        """The position of the newest event on a cell's stream (0: none yet)."""
        try:
            info = self._run(self.js.stream_info(self.events_stream(cell)))
        except NotFoundError:
            return 0
        return int(info.state.last_seq or 0)

    def consumer_state(self) -> dict[str, Any]:
        """The workers' consumer: waiting, held, redelivered (empty before any worker)."""
        try:
            info = self._run(self.js.consumer_info(self.effects_stream, WORKERS))
        except NotFoundError:
            return {}
        return {"pending": int(info.num_pending or 0),
                "held": int(info.num_ack_pending or 0),
                "redelivered": int(info.num_redelivered or 0),
                "delivered": int(info.delivered.stream_seq or 0) if info.delivered else 0}


class EventsReader:
    """An ordered reader of one cell's events."""

    def __init__(self, bus: Bus, sub: Any) -> None:
        self.bus = bus
        self.sub = sub

    def read(self, batch: int = 500, timeout: float = 0.2) -> list[Message]:
        """The next messages in stream order (none after `timeout`)."""
        return self.bus.fetch(self.sub, batch, timeout)

    def close(self) -> None:
        """Stop reading (the ephemeral consumer goes away)."""
        with contextlib.suppress(Exception):
            self.bus._run(self.sub.unsubscribe(), timeout=5)


class EffectsReader(EventsReader):
    """The workers' reader of the effects queue."""
