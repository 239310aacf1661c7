"""`baton replay` on logs of other shapes and sizes: measured, or refused saying why."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from baton.errors import ConfigError
from replay_logs import (
    NESTED_MAPPING,
    ONE_TIME_MAPPING,
    START,
    Truth,
    nested_jsonl_log,
    one_time_log,
    servicenow_log,
    spread,
    truths,
)


def run(tmp_path: Path, log: Path, mapping: str, *args: str) -> tuple[int, str, dict[str, Any]]:
    """The CLI's exit code and output, and the report's data."""
    report = tmp_path / "report"
    result = CliRunner().invoke(app_(), ["replay", str(log), "--mapping", mapping,
                                         "--report", str(report), *args])
    data = json.loads((report / "report.json").read_text()) if (report / "report.json"
                                                                 ).exists() else {}
    return result.exit_code, result.output, data


def app_() -> Any:
    from baton.cli import app

    return app


def assert_measured(data: dict[str, Any], cases: list[Truth]) -> None:
    """Test cases were decided, and people's accuracy matches a count made here."""
    assert data["test_cases"] > 0 and "routing" not in data["not_measured"]
    truth = {c.id: c for c in cases}
    measured = [truth[i] for i in data["measured_cases"]]
    assert len(measured) == data["test_cases"]
    by_hand = sum(c.first == c.final for c in measured) / len(measured)
    assert data["routing"]["human_first_accuracy"] == round(by_hand, 4)
    assert data["routing"]["engine_accuracy"] > 0
    c = data["consistency"]  # the model's own choices were kept beside the stable routes
    assert c["accuracy_cost"] == pytest.approx(
        c["model_accuracy"] - data["routing"]["engine_accuracy"], abs=1e-4)
    by = c["cost_by_combination"]  # the breakdown accounts for every case of the cost
    assert by["lost"] - by["won"] == c["cost_cases"]


def test_a_closure_window_extract_is_measured(tmp_path: Path) -> None:
    # A third of the cases over a month, two thirds within the four days after it.
    opens = spread(700, START, 30, seed=1) + spread(1400, START + timedelta(days=30), 4, 2)
    cases = truths(opens, seed=3)
    code, output, data = run(tmp_path, servicenow_log(tmp_path / "x.csv", cases),
                             "servicenow")
    assert code == 0, output
    assert_measured(data, cases)
    assert data["plan"]["refit_every_hours"] < 24  # a month-long log refits within a day


@pytest.mark.slow
def test_a_small_log_of_2500_cases_is_measured(tmp_path: Path) -> None:
    # About 51 cases open per 14 days: the holdout of a fixed two weeks would be tiny.
    cases = truths(spread(2500, START, 2500 / 51 * 14, seed=4), seed=5)
    code, output, data = run(tmp_path, servicenow_log(tmp_path / "s.csv.gz", cases, gz=True),
                             "servicenow")
    assert code == 0, output
    assert_measured(data, cases)
    assert data["plan"]["min_train"] == 250 and data["plan"]["min_holdout"] == 62


def test_a_log_with_one_timestamp_per_row_and_no_open_or_close_columns_is_measured(
        tmp_path: Path) -> None:
    cases = truths(spread(900, START, 40, seed=6), seed=7)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING)
    code, output, data = run(tmp_path, one_time_log(tmp_path / "o.csv", cases), str(mapping))
    assert code == 0, output
    assert_measured(data, cases)
    truth = {c.id: c for c in cases}
    hours = [(c.resolved - c.opened).total_seconds() / 3600 for c in truth.values()]
    assert data["flow"]["time_to_resolve_hours"]["mean"] == round(sum(hours) / len(hours), 3)
    waits = [(c.moved - c.opened).total_seconds() / 7200 for c in cases if c.first != c.final]
    assert data["flow"]["waiting_hours"]["mean"] == round(sum(waits) / len(cases), 3)


def test_a_header_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    cases = truths(spread(700, START, 30, seed=8), seed=9)
    code, output, data = run(tmp_path, servicenow_log(tmp_path / "b.csv", cases, bom=True),
                             "servicenow")
    assert code == 0, output
    assert_measured(data, cases)


def test_a_json_lines_log_with_nested_fields_is_measured_by_dotted_paths(
        tmp_path: Path) -> None:
    cases = truths(spread(900, START, 40, seed=10), seed=11)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(NESTED_MAPPING)
    code, output, data = run(tmp_path, nested_jsonl_log(tmp_path / "n.jsonl", cases),
                             str(mapping))
    assert code == 0, output
    assert_measured(data, cases)
    assert data["class_by"] == ["fields.priority.name"]
    assert {p["class"] for p in data["promotion"]} <= {"P1", "P2", "P3"}


def test_a_log_without_a_group_measures_flow_and_says_routing_is_not_measured(
        tmp_path: Path) -> None:
    cases = truths(spread(300, START, 20, seed=12), seed=13)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING.replace("group: team\n", ""))
    code, output, data = run(tmp_path, one_time_log(tmp_path / "g.csv", cases, group=False),
                             str(mapping))
    assert code == 0, output
    assert "NOT MEASURED routing: the log names no handling group" in " ".join(output.split())
    assert data["not_measured"]["routing"].startswith("the log names no handling group")
    assert data["test_cases"] == 0 and data["flow"]["cases"] == 300
    assert data["flow"]["reassignments"] == {  # no group and no count: nothing to count
        "not measured": "the mapping has neither a group nor a reassignment_count column"}
    waits = [(c.moved - c.opened).total_seconds() / 7200 for c in cases if c.first != c.final]
    assert data["flow"]["waiting_hours"]["mean"] == round(sum(waits) / len(cases), 3)
    html = (tmp_path / "report" / "report.html").read_text()
    assert "not measured: the log names no handling group" in html and "Nonex" not in html


def test_a_log_too_short_to_train_on_exits_non_zero_and_says_what_is_needed(
        tmp_path: Path) -> None:
    cases = truths(spread(120, START, 10, seed=14), seed=15)
    code, output, data = run(tmp_path, servicenow_log(tmp_path / "t.csv", cases),
                             "servicenow", "--min-train", "500")
    assert code == 3, output
    why = data["not_measured"]["routing"]
    assert "need 500 training" in why and "--min-train" in why
    assert "not measured: the router never had enough history" in (
        tmp_path / "report" / "report.html").read_text()


def test_a_group_that_is_the_state_column_is_refused_at_its_mapping_line(
        tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING.replace("group: team", "group: status"))
    code, output, _ = run(tmp_path, tmp_path / "absent.csv", str(mapping))
    assert code != 0 and f"{mapping}:5: group: column 'status' is the state" in \
        " ".join(output.split())


def test_a_group_column_holding_one_placeholder_value_is_refused(tmp_path: Path) -> None:
    cases = truths(spread(50, START, 5, seed=16), seed=17)
    log = one_time_log(tmp_path / "p.csv", cases)
    log.write_text("\n".join(line if i == 0 else ",".join(
        [*line.split(",")[:3], "unassigned", *line.split(",")[4:]])
        for i, line in enumerate(log.read_text().splitlines())) + "\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING)
    code, output, _ = run(tmp_path, log, str(mapping))
    assert code != 0
    assert "only 'unassigned' on every row: a placeholder" in " ".join(output.split())


def test_an_attribute_naming_the_first_handler_is_warned_about(tmp_path: Path) -> None:
    cases = truths(spread(700, START, 30, seed=18), seed=19)
    log = one_time_log(tmp_path / "l.csv", cases)
    lines = log.read_text().splitlines()
    # `prio` becomes the team of each row: its first-row value is people's first choice.
    log.write_text("\n".join(lines[:1] + [",".join([*parts[:5], parts[3]]) for parts in
                                          (line.split(",") for line in lines[1:])]) + "\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING)
    code, output, data = run(tmp_path, log, str(mapping))
    assert code == 0, output
    (warning,) = data["warnings"]
    assert warning.startswith("open attribute 'prio': its first-row value names the group")
    assert "WARNING: open attribute 'prio'" in " ".join(output.split())
    _, _, clean = run(tmp_path / "clean", one_time_log(tmp_path / "c.csv", cases),
                      str(mapping))
    assert clean["warnings"] == []


def test_errors_in_a_mapping_name_its_line_and_column(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(ONE_TIME_MAPPING.replace("resolved_states: [done]",
                                                "resolved_states: [closed]"))
    cases = truths(spread(20, START, 5, seed=20), seed=21)
    log = one_time_log(tmp_path / "e.csv", cases)
    with pytest.raises(ConfigError) as err:
        from baton.replay.run import replay
        replay(log, str(mapping), db=tmp_path / "r.db")
    assert err.value.line == 6 and "column 'status' holds 'open'" in str(err.value)
    mapping.write_text(NESTED_MAPPING.replace("class_by: [fields.priority.name]",
                                              "class_by: [fields.team.name]"))
    with pytest.raises(ConfigError, match=r"m.yaml:\d+: class_by\[0\]: 'fields.team.name' is "
                                          "not one of open_attributes"):
        from baton.replay.mapping import load_mapping
        load_mapping(str(mapping))
