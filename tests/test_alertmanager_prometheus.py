"""Baton next to the real monitoring stack: Alertmanager's webhook in, Prometheus scraping out.

Both run as Debian's programs on free loopback ports with their state in a temporary
directory; clustering is off, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.config import Config
from integration_support import (
    cloudevent,
    free_port,
    log_tail,
    loopback_client,
    require_program,
    running,
    wait_for,
    wait_ready,
)
from web_support import Live, live_server

pytestmark = [pytest.mark.monitoring, pytest.mark.timeout(90)]


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "monitoring.db") as server:
        yield server


def _amtool(amtool: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["HOME"] = str(home)  # no user configuration of amtool's
    return subprocess.run([amtool, *args], capture_output=True, text=True, timeout=30,
                          env=env, check=False)


def alertmanager_config(live: Live) -> dict[str, Any]:
    """One route to one webhook receiver: Baton's endpoint, with the operator's token."""
    return {
        "route": {"receiver": "baton", "group_by": ["alertname", "service"],
                  "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "baton", "webhook_configs": [{
            "url": f"{live.url}/api/alertmanager", "send_resolved": False,
            "http_config": {"authorization": {"type": "Bearer",
                                              "credentials": live.tokens["operator"]}}}]}],
    }


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus exposition text, or None when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def test_an_alertmanager_alert_becomes_a_saturation_decision(live: Live, tmp_path: Path) -> None:
    alertmanager = require_program("prometheus-alertmanager")
    amtool = require_program("amtool")
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps(alertmanager_config(live), indent=2))  # JSON is YAML
    checked = _amtool(amtool, "check-config", str(config), home=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "alertmanager.log"
    with running([alertmanager, f"--config.file={config}",
                  f"--storage.path={tmp_path / 'alertmanager'}",
                  f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                  "--log.level=debug"], log) as proc:
        wait_ready(proc, f"{url}/-/ready", log)
        added = _amtool(amtool, "alert", "add", "alertname=CpuHigh", "service=worker",
                        "metric=cpu_util", "--annotation=value=0.97",
                        f"--alertmanager.url={url}", home=tmp_path)
        assert added.returncode == 0, added.stdout + added.stderr

        def saturation_on_worker() -> dict[str, Any] | None:
            with live.client("viewer") as c:
                items = c.get("/api/decisions").json()["items"]
            return next((d for d in items if d["situation_kind"] == "saturation"
                         and d["entity"] == "worker"), None)

        try:
            decision = wait_for(saturation_on_worker, timeout=20,
                                what="a saturation decision on worker")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tail(log)}") from None

        with loopback_client(url) as am:
            (alert,) = am.get("/api/v2/alerts").json()
            sent = wait_for(lambda: metric_value(am.get("/metrics").text,
                                                 "alertmanager_notifications_total",
                                                 integration="webhook"),
                            timeout=10, what="Alertmanager to count the notification")
            failed = metric_value(am.get("/metrics").text,
                                  "alertmanager_notifications_failed_total",
                                  integration="webhook")
    assert proc.returncode is not None  # stopped and waited for

    assert alert["labels"]["alertname"] == "CpuHigh"
    assert [r["name"] for r in alert["receivers"]] == ["baton"]
    assert sent >= 1 and failed == 0, log_tail(log)
    assert decision["verdict"]["kind"] == "autonomous" and decision["outcome"] == "executed"
    assert decision["event"].startswith(f"am:{alert['fingerprint']}:")
    with live.client("viewer") as c:
        (one,) = c.get("/api/decisions").json()["items"]  # the alert was sent once
        assert one["id"] == decision["id"]
    assert [(r.action.kind, r.action.resource) for r in live.world.requests] == [
        ("scale_out", "worker")]


def prometheus_config(live: Live) -> str:
    """Scrape Baton's /metrics every second."""
    target = live.url.removeprefix("http://")
    return json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "baton", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}],
    }, indent=2)


def test_prometheus_scrapes_baton_metrics(live: Live, tmp_path: Path) -> None:
    prometheus = require_program("prometheus")
    with live.client("operator") as c:
        r = c.post("/api/events", json=cloudevent("down-db", "service.down", "db"))
        assert r.status_code == 202, r.text  # db is tier 1: restarted autonomously

    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(live))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "prometheus.log"
    with running([prometheus, f"--config.file={config}",
                  f"--storage.tsdb.path={tmp_path / 'prometheus'}",
                  f"--web.listen-address=127.0.0.1:{port}"], log) as proc:
        wait_ready(proc, f"{url}/-/ready", log)
        with loopback_client(url) as prom:

            def baton_target_up() -> dict[str, Any] | None:
                targets = prom.get("/api/v1/targets").json()["data"]["activeTargets"]
                return next((t for t in targets if t["labels"]["job"] == "baton"
                             and t["health"] == "up"), None)

            def decisions_series() -> list[dict[str, Any]] | None:
                body = prom.get("/api/v1/query",
                                params={"query": "baton_decisions_total"}).json()
                assert body["status"] == "success", body
                result: list[dict[str, Any]] = body["data"]["result"]
                return result or None

            try:
                target = wait_for(baton_target_up, timeout=20, what="the baton target up")
                series = wait_for(decisions_series, timeout=20,
                                  what="baton_decisions_total in Prometheus")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log_tail(log)}") from None
    assert proc.returncode is not None  # stopped and waited for

    assert target["scrapeUrl"] == f"{live.url}/metrics" and target["lastError"] == ""
    (sample,) = [s for s in series if s["metric"].get("outcome") == "executed"]
    assert {k: sample["metric"][k] for k in ("job", "domain", "verdict", "outcome")} == {
        "job": "baton", "domain": "reliability", "verdict": "autonomous",
        "outcome": "executed"}
    assert sample["metric"]["__name__"] == "baton_decisions_total"
    assert float(sample["value"][1]) == 1.0
