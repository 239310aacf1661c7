"""Mapping files and the log reader: other logs need only a new YAML; errors say where."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from baton.errors import ConfigError, InputError
from baton.replay.mapping import load_mapping
from baton.replay.reader import read_rows

HEADER = ("number,incident_state,assignment_group,opened_at,sys_updated_at,resolved_at,"
          "closed_at,reassignment_count,"
          "caller_id,opened_by,sys_created_by,contact_type,location,category,subcategory,"
          "u_symptom,cmdb_ci,impact,urgency,priority,knowledge,u_priority_confirmation,notify")


def servicenow_csv(path: Path, rows: list[str], *, gz: bool = False) -> Path:
    text = "\n".join([HEADER, *rows]) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def row(case: str, state: str, group: str, updated: str, resolved: str = "?") -> str:
    return (f"{case},{state},{group},29/2/2016 01:16,{updated},{resolved},?,0,Caller 1,"
            "Opened by 8,"
            "Created by 6,Phone,Location 143,Category 55,Subcategory 170,Symptom 72,?,"
            "2 - Medium,2 - Medium,3 - Moderate,true,false,Do Not Notify")


def test_the_bundled_servicenow_mapping_reads_a_gzipped_log(tmp_path: Path) -> None:
    log = servicenow_csv(tmp_path / "log.csv.gz", [
        row("INC1", "New", "Group 56", "29/2/2016 01:23"),
        row("INC1", "Resolved", "Group 7", "29/2/2016 08:53", "29/2/2016 08:53")], gz=True)
    rows = list(read_rows(log, load_mapping("servicenow")))
    assert [n for n, _ in rows] == [2, 3]
    assert rows[0][1]["assignment_group"] == "Group 56"
    assert rows[0][1]["cmdb_ci"] == "" and rows[0][1]["resolved_at"] == ""


def test_a_log_with_other_columns_and_times_needs_only_a_new_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "jira.yaml"
    mapping.write_text(
        "name: jira\nformat: jsonl\ncase: key\n"
        "updated_at: {column: changed, format: iso}\n"
        "opened_at: {column: created, format: '%Y-%m-%d %H:%M', timezone: Europe/Berlin}\n"
        "closed_at: {column: done, format: iso}\n"
        "state: status\ngroup: team\nresolved_states: [Done]\n"
        "open_attributes: [reporter, component]\n")
    log = tmp_path / "jira.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"key": "J-1", "changed": "2026-01-05T09:00:00Z", "created": "2026-01-05 09:30",
         "status": "Open", "team": "web", "reporter": "ann", "component": "login",
         "done": None},
        {"key": "J-1", "changed": "2026-01-05T11:00:00+00:00", "created": "2026-01-05 09:30",
         "status": "Done", "team": "identity", "reporter": "ann", "component": None,
         "done": "2026-01-05T11:00:00Z"}]))
    loaded = load_mapping(str(mapping))
    rows = [values for _, values in read_rows(log, loaded)]
    assert [r["team"] for r in rows] == ["web", "identity"]
    assert rows[1]["component"] == ""
    assert loaded.mapping.opened_at is not None
    opened = loaded.mapping.opened_at.parse(rows[0]["created"])
    assert opened.isoformat() == "2026-01-05T08:30:00+00:00"  # Berlin is UTC+1 in January


def test_a_column_the_log_lacks_is_named_with_the_mapping_line(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    text = (Path(__file__).parents[1] / "src/baton/replay/mappings/servicenow.yaml").read_text()
    mapping.write_text(text.replace("state: incident_state", "state: incident_status"))
    line = mapping.read_text().splitlines().index("state: incident_status") + 1
    log = servicenow_csv(tmp_path / "log.csv", [row("INC1", "New", "G", "29/2/2016 01:23")])
    with pytest.raises(ConfigError) as err:
        list(read_rows(log, load_mapping(str(mapping))))
    message = str(err.value)
    assert f"{mapping}:{line}" in message and "'incident_status'" in message
    assert "number, incident_state" in message


def test_a_timestamp_that_does_not_fit_names_row_column_and_mapping_line(
        tmp_path: Path) -> None:
    log = servicenow_csv(tmp_path / "log.csv", [
        row("INC1", "New", "G", "29/2/2016 01:23"),
        row("INC1", "Active", "G", "2016-02-29T03:00")])
    loaded = load_mapping("servicenow")
    with pytest.raises(InputError) as err:
        list(read_rows(log, loaded))
    message = str(err.value)
    assert f"{log}:3: column 'sys_updated_at': '2016-02-29T03:00'" in message
    assert "does not match format '%d/%m/%Y %H:%M'" in message
    assert f"{loaded.doc.file}:{loaded.doc.line_of(('updated_at',))}" in message


def test_an_invalid_mapping_file_and_an_unknown_bundled_name_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncase: id\nupdated_at: {column: t}\nopened_at: {column: o}\n"
                   "state: s\ngroup: g\nresolved_states: []\nopen_attributes: [a]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:7: resolved_states"):
        load_mapping(str(bad))
    with pytest.raises(ConfigError, match="bundled: servicenow"):
        load_mapping("no-such-mapping")


@pytest.mark.parametrize(("setting", "why"), [("stable_young: -1", "greater than or equal to 0"),
                                              ("stable_young_alpha: 1.5", "less than 1"),
                                              ("stable_young: many", "valid integer")])
def test_a_bad_stable_route_setting_is_named_with_its_line(tmp_path: Path, setting: str,
                                                           why: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncase: id\nupdated_at: {column: t}\nstate: s\ngroup: g\n"
                   "resolved_states: [Closed]\nopen_attributes: [a]\n"
                   f"routing:\n  {setting}\n")
    with pytest.raises(ConfigError, match=rf"bad.yaml:9: routing.stable_young.*{why}"):
        load_mapping(str(bad))
