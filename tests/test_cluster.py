"""A cluster on real PostgreSQL and NATS JetStream: sequencers that fail over under load,
a paused leader fenced off, workers and API replicas that die, and the same ledger head
as one process given the same events."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from baton.auth.service import Auth
from baton.auth.tables import AuthStore
from baton.cluster.launch import Target
from baton.config import load_config
from baton.ledger import chain
from baton.store import open_store
from cluster_support import (
    Client,
    Cluster,
    cluster_config,
    outbox_actions,
    require_nats,
    single_process_run,
    wait_settled,
    workload,
)
from conftest import _postgres_url
from integration_support import loopback_client, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg() -> Iterator[str]:
    yield from _postgres_url()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


@pytest.fixture
def cluster(tmp_path: Path, pg: str, target: Target) -> Iterator[Cluster]:
    bus = require_nats()
    config = cluster_config(tmp_path / "cfg", target.url)
    logs = tmp_path / "logs"
    logs.mkdir()
    c = Cluster(config, pg, bus, logs)
    yield c
    c.stop()
    print({name: c.log(name)[-600:] for name in c.procs})


def _token(cluster: Cluster) -> str:
    store = open_store(cluster.db, create=False)
    try:
        auth = Auth(AuthStore(store.engine), load_config(cluster.config).org)
        return auth.create_token("ana")[1]
    finally:
        store.close()


def _start(cluster: Cluster, *, sequencers: int = 2, workers: int = 2,
           replicas: int = 2, lease: float | None = None) -> None:
    extra = ("--lease", str(lease)) if lease else ()
    cluster.start("seq0", "sequencer", *extra)
    wait_for(lambda: cluster.ready("seq0"), timeout=90, what="the first sequencer to lead")
    for i in range(1, sequencers):
        cluster.start(f"seq{i}", "sequencer", *extra)
    for i in range(workers):
        cluster.start(f"work{i}", "worker", "--ack-wait", "5")
    for i in range(replicas):
        cluster.start(f"api{i}", "serve")
    for name in [n for n in cluster.procs if n.startswith(("work", "api"))]:
        wait_for(partial(cluster.ready, name), timeout=90, what=name)


def _epoch_above(cluster: Cluster, epoch: int) -> bool:
    return int((cluster.leader() or {}).get("epoch", 0)) > epoch


def _compare(cluster: Cluster, target: Target, tmp_path: Path, keys: list[str]) -> None:
    wait_settled(cluster, keys)
    store = open_store(cluster.db, create=False)
    processed = {e.key for _, e in store.events(processed=True)}
    head = store.ledger_head()
    walk = chain.verify(store.ledger_rows())
    sent = outbox_actions(store)
    store.close()
    assert walk.ok and walk.head == head[1], walk.problem
    assert set(keys) <= processed, f"lost: {sorted(set(keys) - processed)[:5]}"
    single_head, decided = single_process_run(cluster.db, cluster.config,
                                              tmp_path / "single.db")
    applied = target.counts()
    print(f"events {len(keys)}, actions decided {sum(decided.values())} "
          f"{dict(decided)}, applied {dict(applied)}, requests {target.requests}")
    assert sum(decided.values()) > 0, "the workload made no action at all"
    assert applied == decided, "an action ran more or less often than in one process"
    assert sent == decided
    assert head == single_head


@pytest.mark.timeout(600)
def test_failover_under_load_loses_nothing_and_does_nothing_twice(
        cluster: Cluster, target: Target, tmp_path: Path) -> None:
    _start(cluster)
    client = Client([cluster.url("api0"), cluster.url("api1")], _token(cluster))
    load = threading.Thread(target=workload, args=(client, 240), kwargs={"pace_s": 0.06})
    load.start()
    rng = random.Random(7)
    takeovers = []
    standby = 2
    for _ in range(5):
        time.sleep(rng.uniform(1.0, 3.0))
        name = wait_for(cluster.leading_name, timeout=30, what="a leader")
        wait_for(cluster.standby_ready, timeout=60, what="a standby")
        epoch = cluster.leader()["epoch"]  # type: ignore[index]
        cluster.signal(name, signal.SIGKILL)
        killed = time.monotonic()
        cluster.procs[name].wait(timeout=30)
        wait_for(partial(_epoch_above, cluster, epoch), timeout=30,
                 what="a standby to take over", interval=0.05)
        takeovers.append(time.monotonic() - killed)
        cluster.start(f"seq{standby}", "sequencer")  # a new standby in its place
        standby += 1
    load.join(timeout=300)
    assert not load.is_alive()
    print(f"takeovers (s): {[round(t, 2) for t in takeovers]}, client retries "
          f"{client.retries}")
    assert max(takeovers) < 5.0 + 2.0, takeovers  # 5 s, with room for a loaded machine
    _compare(cluster, target, tmp_path, client.accepted)


@pytest.mark.timeout(400)
def test_a_paused_leader_is_fenced_off_when_it_wakes(cluster: Cluster, target: Target,
                                                     tmp_path: Path) -> None:
    _start(cluster, workers=1, replicas=1)
    client = Client([cluster.url("api0")], _token(cluster))
    workload(client, 8)
    paused = wait_for(cluster.leading_name, timeout=30, what="a leader")
    cluster.signal(paused, signal.SIGSTOP)
    wait_for(lambda: (cluster.leader() or {}).get("epoch", 0) >= 2, timeout=30,
             what="the standby to take over")
    more = threading.Thread(target=workload, args=(client, 16), kwargs={"pace_s": 0.05})
    more.start()  # events wait for the paused one too: it would commit them on waking
    time.sleep(1.0)
    cluster.signal(paused, signal.SIGCONT)
    code = cluster.procs[paused].wait(timeout=60)
    more.join(timeout=120)
    log = cluster.log(paused)
    assert code == 3, log
    assert "fenced:" in log and "stepping down" in log
    _compare(cluster, target, tmp_path, client.accepted)


@pytest.mark.timeout(400)
def test_a_worker_killed_mid_action_and_a_replica_killed_mid_request(
        cluster: Cluster, target: Target, tmp_path: Path) -> None:
    target.delay_s = 1.5  # long enough to kill a worker while it holds an action
    _start(cluster, sequencers=1, workers=2, replicas=2)
    client = Client([cluster.url("api0"), cluster.url("api1")], _token(cluster))
    load = threading.Thread(target=workload, args=(client, 24), kwargs={"pace_s": 0.2})
    load.start()
    wait_for(lambda: target.requests >= 1 or None, timeout=60, what="a first action")
    cluster.signal("work0", signal.SIGKILL)  # its action is in flight at the target
    cluster.signal("api1", signal.SIGKILL)  # the client retries on the other replica
    load.join(timeout=300)
    assert not load.is_alive()
    _compare(cluster, target, tmp_path, client.accepted)
    status = json.loads(_status(cluster))
    assert status["queue"]["redelivered"] >= 0


def _status(cluster: Cluster) -> str:
    from typer.testing import CliRunner

    from baton.cli import app

    result = CliRunner().invoke(app, ["cluster", "status", "--db", cluster.db, "--bus",
                                      cluster.bus, "--json"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.timeout(300)
def test_cluster_status_and_process_endpoints(cluster: Cluster) -> None:
    _start(cluster, sequencers=2, workers=1, replicas=1)
    wait_for(lambda: "standing by" in cluster.log("seq1"), timeout=60, what="a standby")
    report = json.loads(_status(cluster))
    (cell,) = report["cells"]
    assert cell["cell"] == "main" and cell["epoch"] == 1 and cell["live"]
    assert cell["pid"] == cluster.procs["seq0"].pid and cell["lag"] == 0
    roles = sorted((p["role"], p["state"]) for p in report["processes"])
    assert roles == [("sequencer", "leading"), ("sequencer", "standby"),
                     ("serve", "serving"), ("worker", "working")]
    with loopback_client(cluster.url("seq1")) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503  # a standby is not ready
    with loopback_client(cluster.url("seq0")) as client:
        ready = client.get("/readyz").json()
        assert ready["ready"] is True and ready["epoch"] == 1
        metrics = client.get("/metrics").text
        assert 'baton_leading{cell="main",role="sequencer"} 1.0' in metrics


@pytest.mark.timeout(400)
def test_two_cells_with_an_incident_crossing_them(tmp_path: Path, pg: str,
                                                  target: Target) -> None:
    # reports (cell edge) depends on worker (cell core): worker's incidents cross over
    config = cluster_config(tmp_path / "cfg", target.url, cells=[
        {"id": "core", "services": ["db", "api", "worker"]},
        {"id": "edge", "services": ["reports"]}])
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(config, pg, require_nats(), logs)
    try:
        cluster.start("seq-core", "sequencer", "--cell", "core")
        cluster.start("seq-edge", "sequencer", "--cell", "edge")
        for name in ("seq-core", "seq-edge"):
            wait_for(partial(cluster.ready, name), timeout=90, what=name)
        cluster.start("work0", "worker")
        cluster.start("api0", "serve", "--cell", "core")
        for name in ("work0", "api0"):
            wait_for(partial(cluster.ready, name), timeout=90, what=name)
        client = Client([cluster.url("api0")], _token(cluster))
        client.send(1, "service.down", "worker")
        client.send(2, "service.down", "reports")
        client.send(3, "service.recovered", "worker")

        def upstream() -> list[tuple[str, str]]:
            edge = open_store(pg, create=False, cell="edge")
            try:
                return [(e.attrs["cell"], e.attrs["state"]) for _, e in
                        edge.events(processed=True) if e.type == "incident.upstream"]
            finally:
                edge.close()

        told = wait_for(lambda: len(upstream()) == 2 and upstream(), timeout=60,
                        what="the edge cell to learn of worker's incident and its end")
        assert told == [("core", "open"), ("core", "resolved")]
        heads = {}
        for cell, own in (("core", {"load:e1", "load:e3"}), ("edge", {"load:e2"})):
            store = open_store(pg, create=False, cell=cell)
            keys = {e.key for _, e in store.events(processed=True)}
            walk = chain.verify(store.ledger_rows())
            heads[cell] = store.ledger_head()
            store.close()
            assert own <= keys, (cell, keys)
            assert walk.ok and walk.rows == heads[cell][0] > 0, (cell, walk.problem)
            single, _ = single_process_run(pg, config, tmp_path / f"{cell}.db", cell)
            assert single == heads[cell], cell  # deterministic per cell
        assert heads["core"] != heads["edge"]  # a chain each
        report = json.loads(_status(cluster))
        assert sorted(c["cell"] for c in report["cells"]) == ["core", "edge"]
        assert all(c["live"] and c["epoch"] == 1 for c in report["cells"])
    finally:
        cluster.stop()


@pytest.mark.timeout(300)
def test_the_dashboard_shows_the_cluster(cluster: Cluster) -> None:
    _start(cluster, sequencers=2, workers=1, replicas=1)
    wait_for(cluster.standby_ready, timeout=60, what="a standby")
    token = _token(cluster)
    with loopback_client(cluster.url("api0")) as client:
        headers = {"Authorization": f"Bearer {token}"}
        state = client.get("/api/cluster", headers=headers).json()
        page = client.get("/cluster", headers=headers)
        assert client.get("/api/cluster").status_code == 401  # signed in only
    assert state["mode"] == "cluster"
    (cell,) = state["cells"]
    assert cell["epoch"] == 1 and cell["pid"] == cluster.procs["seq0"].pid
    assert page.status_code == 200
    for text in ("Cells", "main", "leading", "standby", "worker", "serving", "Work queue"):
        assert text in page.text, text


@pytest.mark.timeout(300)
def test_hostile_messages_on_the_bus_are_skipped_and_nothing_halts(cluster: Cluster) -> None:
    from baton.cluster.bus import Bus

    _start(cluster, sequencers=1, workers=1, replicas=1)
    bus = Bus(cluster.bus)
    try:  # written to the stream directly, past every replica's checks
        bus.publish_events("main", [("junk", b"\x00not json"),
                                    ("half", b'{"key": "h", "type": "service.down"}'),
                                    ("alien", b'{"key": "a", "type": "no.such.type", '
                                              b'"entity": "db", "time": "2026-01-01T00:00:00Z"}')])
        bus.publish_effects("main", [("bad-effect", b"{]")])
    finally:
        bus.close()
    client = Client([cluster.url("api0")], _token(cluster))
    client.send(1, "service.down", "db")
    good = client.accepted
    store = open_store(cluster.db, create=False)
    try:
        wait_for(lambda: not store.unprocessed(good) and
                 {e.key for _, e in store.events(processed=True)} >= set(good),
                 timeout=60, what="the good event to be decided")
        keys = {e.key for _, e in store.events()}
    finally:
        store.close()
    assert keys.isdisjoint({"h", "a"})  # the bad ones never reached the log
    with loopback_client(cluster.url("seq0")) as http:
        assert 'baton_bus_messages_rejected_total{cell="main",role="sequencer"} 3.0' \
            in http.get("/metrics").text
    assert cluster.procs["seq0"].poll() is None and cluster.procs["work0"].poll() is None
    assert "is not a valid event" in cluster.log("seq0")
    wait_for(lambda: "is not an effect, dropped" in cluster.log("work0"), timeout=30,
             what="the worker to drop the bad effect")


@pytest.mark.timeout(300)
def test_sigterm_hands_the_lease_over_at_once(cluster: Cluster) -> None:
    # a lease of 10 s: a standby that had to wait for it to expire would need 9.5 s or more
    _start(cluster, sequencers=2, workers=0, replicas=0, lease=10.0)
    wait_for(cluster.standby_ready, timeout=60, what="a standby")
    cluster.signal("seq0", signal.SIGTERM)
    stopped = time.monotonic()
    assert cluster.procs["seq0"].wait(timeout=30) == 0
    wait_for(partial(_epoch_above, cluster, 1), timeout=30, what="the standby to lead",
             interval=0.05)
    took = time.monotonic() - stopped
    print(f"SIGTERM: the standby led {took:.2f} s after the leader stopped")
    assert took < 6.0, "it waited for the lease to expire instead of taking it at once"
