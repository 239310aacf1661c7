"""`baton bench audit` runs end to end on a small load and writes its figures."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from baton.cli import app


def test_the_audit_benchmark_prints_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["bench", "audit", "--events", "400",
                                      "--audit-records", "3000", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "baton bench audit" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["checkpoint_every_batch"]["checkpoints"] == 1
    assert figures["without_checkpoints"]["decisions"] == \
        figures["checkpoint_every_batch"]["decisions"] > 0
    scale = figures["at_scale"]
    assert scale["tree_sizes"] == [3000, 4000]
    assert scale["proof_path_nodes"] == 12  # ceil(log2(3000)) under the first checkpoint
