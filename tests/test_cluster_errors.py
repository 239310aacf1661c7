"""Bad input to the cluster commands: a clear error naming what is wrong, exit 2, and
nothing started or written."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app
from baton.errors import ConfigError
from baton.org.cells import Cells
from baton.org.loader import load_organisation


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


def test_a_bus_url_that_is_not_nats_is_refused(starter_dir: Path, tmp_path: Path) -> None:
    for role in ("sequencer", "worker"):
        code, out = _run(role, starter_dir, "--db", tmp_path / "x.db", "--bus", "http://x")
        assert code == 2 and "expected nats://HOST:PORT" in out, out
    code, out = _run("cluster", "status", "--db", tmp_path / "none.db", "--bus",
                     "nats://127.0.0.1:4222")
    assert code == 2 and "no database here" in out, out


def test_a_bus_that_does_not_answer_is_named(starter_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    code, out = _run("worker", starter_dir, "--db", tmp_path / "x.db", "--bus",
                     f"nats://127.0.0.1:{port}")
    assert code == 2 and f"bus nats://127.0.0.1:{port}: cannot connect" in out, out


def test_cells_other_than_main_need_postgresql(starter_dir: Path, tmp_path: Path) -> None:
    from baton.store import open_store

    with pytest.raises(ConfigError, match="cells other than main need PostgreSQL"):
        open_store(tmp_path / "x.db", cell="edge")


def _org(starter_dir: Path, cells: str) -> Path:
    path = starter_dir / "org.yaml"
    path.write_text(path.read_text() + "\n" + cells)
    return path


def test_declared_cells_route_services_and_name_the_dependents(starter_dir: Path) -> None:
    org = load_organisation(_org(starter_dir, "cells:\n  - {id: core, services: [db, api, "
                                              "worker]}\n  - {id: edge, services: [reports]}\n"))
    cells = Cells(org)
    assert cells.ids == ["core", "edge"]
    assert cells.cell_of("reports") == "edge" and cells.cell_of("db") == "core"
    assert cells.cell_of("ESC-1", default="core") == "core"  # not a service
    assert cells.dependents("worker") == ["edge"]  # reports depends on worker
    assert cells.dependents("db") == ["edge"]  # through worker
    assert cells.dependents("reports") == []


def test_auto_cells_are_the_connected_parts(starter_dir: Path) -> None:
    from baton.org.model import Domain, Service, Team

    org = load_organisation(_org(starter_dir, "cells: auto\n"))
    assert set(Cells(org).of_service.values()) == {"main"}  # one connected part
    # a service of its own team and domain, depending on nothing: a cell of its own
    apart = org.model_copy(update={
        "domains": [*org.domains, Domain(id="labs", owner="ana")],
        "teams": [*org.teams, Team(id="lab", domain="labs", lead="ana")],
        "services": [*org.services, Service(id="sandbox", tier=3, team="lab")]})
    cells = Cells(apart)
    assert cells.cell_of("sandbox") != cells.cell_of("db")
    assert len(set(cells.of_service.values())) == 2
    assert cells.cell_of("reports") == cells.cell_of("db")  # joined through worker


@pytest.mark.parametrize(("text", "message"), [
    ("cells:\n  - {id: core, services: [db, nope]}\n", "unknown service 'nope'"),
    ("cells:\n  - {id: a, services: [db, api, worker, reports]}\n"
     "  - {id: b, services: [db]}\n", "service 'db' is already in cell 'a'"),
    ("cells:\n  - {id: a, services: [db, api]}\n", "in none: worker, reports"),
    ("cells:\n  - {id: Bad Id, services: [db]}\n", "id"),
])
def test_bad_cells_are_refused_with_file_and_line(starter_dir: Path, text: str,
                                                  message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_organisation(_org(starter_dir, text))
    assert message in str(caught.value) and "org.yaml" in str(caught.value)
