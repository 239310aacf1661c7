"""Write a value report: report.json and a single-file report.html (no external assets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;
max-width:1000px;margin:24px auto;padding:0 20px;background:#fff}
h1{font-size:24px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e2e8f0}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}
th,td{text-align:left;padding:6px;border-bottom:1px solid #edf2f7;vertical-align:top}
th{color:#718096}.holds{color:#2f855a;font-weight:600}.fails{color:#c53030;font-weight:600}
.open{color:#b7791f;font-weight:600}.muted{color:#718096}svg.chart{width:100%;height:auto}
svg .grid{stroke:#edf2f7}svg .tick{font-size:11px;fill:#718096}svg .axis{font-size:12px;
fill:#4a5568}svg .legend{font-size:12px;fill:#2d3748}code{font-size:13px}
.note{background:#f7fafc;border-left:3px solid #cbd5e0;padding:8px 12px}
"""


@dataclass(frozen=True)
class Claim:
    """One claim beside what was measured."""

    claim: str
    claimed: str
    measured: str
    holds: bool | None  # None: not measured here, or not comparable
    note: str = ""


@dataclass(frozen=True)
class Section:
    """A titled part of the report: HTML (which may contain SVG charts)."""

    title: str
    html: str


def claims_table(claims: list[Claim]) -> str:
    """The claims with the measured values beside them."""
    rows = []
    for c in claims:
        verdict = {True: ('holds', "holds"), False: ('fails', "does not hold"),
                   None: ('open', "not settled")}[c.holds]
        rows.append(f"<tr><td>{escape(c.claim)}</td><td>{escape(c.claimed)}</td>"
                    f"<td>{escape(c.measured)}</td><td class=\"{verdict[0]}\">{verdict[1]}</td>"
                    f"<td>{escape(c.note)}</td></tr>")
    return ("<table><thead><tr><th>claim</th><th>claimed</th><th>measured</th><th>verdict</th>"
            "<th>note</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A plain table."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(directory: Path, *, title: str, data: dict[str, Any],
                 sections: list[Section], intro: str = "") -> tuple[Path, Path]:
    """Write report.json (the data) and report.html (readable, with plots)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / "report.json", directory / "report.html"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n",
                         encoding="utf-8")
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
             f"{escape(title)}</title><style>{STYLE}</style></head><body>"
             f"<h1>{escape(title)}</h1>"]
    if intro:
        parts.append(f"<p>{intro}</p>")
    parts += [f"<h2>{escape(s.title)}</h2>{s.html}" for s in sections]
    parts.append("<p class=\"muted\">The figures are in report.json beside this file.</p>"
                 "</body></html>")
    html_path.write_text("".join(parts), encoding="utf-8")
    return json_path, html_path
