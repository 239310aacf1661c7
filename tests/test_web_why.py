"""The "why" page of a decision: readable, linked, and showing what became of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.config import Config
from baton.web.explain import linked, rationale_text, readable
from integration_support import open_escalation
from web_support import Live, live_server


@pytest.fixture
def live(starter: Config, tmp_path: Path) -> Iterator[Live]:
    with live_server(starter, tmp_path / "why.db") as server:
        yield server


def _page(live: Live, decision: str) -> str:
    with live.client("viewer") as c:
        r = c.get(f"/decisions/{decision}")
    assert r.status_code == 200, r.text
    return r.text.split("<main>")[1]


def test_an_escalated_decision_reads_as_proposed_and_shows_its_answer_later(live: Live) -> None:
    esc = open_escalation(live)
    before = _page(live, esc["decision"])
    assert "Proposed by" in before and "the verdict asked a person to decide" in before
    assert 'id="current-outcome"' in before and "waiting for oncall" in before
    with live.client("admin") as c:
        r = c.post(f"/api/escalations/{esc['id']}/approve", json={"comment": "do it"})
        assert r.status_code == 200, r.text
        answer = r.json()["id"]
    after = _page(live, esc["decision"])
    now = after.split('id="current-outcome"')[1].split("</dd>")[0]
    assert "approved; executed" in now and "by ana" in now and f'href="/decisions/{answer}"' in now
    answered = _page(live, answer)
    assert f'<a href="/decisions/{esc["decision"]}">' in answered  # the answer links back


def test_the_context_hides_unknowns_and_words_booleans(live: Live) -> None:
    esc = open_escalation(live)
    page = _page(live, esc["decision"])
    context = page.split('id="context"')[1].split("</dl>")[0]
    values = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", context))
    assert "minutes since deploy" not in values  # -1: no deploy known
    assert values["freeze"] == "no" and "True" not in context and "False" not in context
    assert values["tier"] == "0"


def test_each_proposal_shows_its_score_by_objective_and_its_verdicts(live: Live) -> None:
    esc = open_escalation(live)
    page = _page(live, esc["decision"])
    table = page.split('id="proposals"')[1].split("</table>")[0]
    assert "Cedar verdict" in table and "after caps" in table
    terms = re.search(r'<small class="terms"> = ([^<]+)</small>', table)
    assert terms, table
    assert {"customer impact", "speed", "cost", "risk"} <= set(
        re.findall(r"[+-]\d+\.\d\d ([a-z ]+?)(?= [+-]|$)", terms.group(1).strip()))
    assert re.search(r"<td>-?\d+\.\d\d<small", table)  # not -0.133333333


def test_ids_in_text_become_links_and_other_text_is_escaped() -> None:
    html = str(linked("correlated to incident S:down:test:d1 and its plan D-0123456789abcdef/"
                      "root; see E-0123456789abcdef <b>"))
    assert '<a href="/incidents/S:down:test:d1">S:down:test:d1</a>' in html
    assert '<a href="/decisions/D-0123456789abcdef">D-0123456789abcdef/root</a>' in html
    assert '<a href="/decisions/D-0123456789abcdef">E-0123456789abcdef</a>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_values_read_as_words() -> None:
    assert readable(True) == "yes" and readable(False) == "no"
    assert readable(["a", "b"]) == "a, b" and readable([]) == "none"
    assert readable({"person": "raj", "off_hours": False}) == "off_hours: no; person: raj"
    assert rationale_text("outside policy (approved: True)") == "outside policy (approved: yes)"
