"""The decision feed: filters, search and paging over the latest decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.web.host import EngineHost

PAGE = 50
#: a search or an outcome filter reads at most this many of the latest decisions
WINDOW = 5000
OUTCOMES = ("executed", "escalated", "approved", "rejected", "denied", "failed",
            "compensated", "correlated", "shadowed", "expired", "plan", "assigned")
VERDICTS = ("autonomous", "approval", "denied")


@dataclass(frozen=True)
class FeedQuery:
    """What the feed shows: exact filters, an outcome word, a search text and a page."""

    domain: str = ""
    verdict: str = ""
    outcome: str = ""
    entity: str = ""
    q: str = ""
    page: int = 1

    def params(self, **change: Any) -> str:
        """This query as URL parameters, with some changed (for links to other pages)."""
        from urllib.parse import urlencode

        values = {**self.__dict__, **change}
        return urlencode({k: v for k, v in values.items()
                          if v and not (k == "page" and v == 1)})


def query_from(params: dict[str, str]) -> FeedQuery:
    """A query from request parameters; unknown words are dropped, the page is at least 1."""
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    verdict = params.get("verdict", "")
    outcome = params.get("outcome", "")
    return FeedQuery(domain=params.get("domain", "").strip()[:100],
                     verdict=verdict if verdict in VERDICTS else "",
                     outcome=outcome if outcome in OUTCOMES else "",
                     entity=params.get("entity", "").strip()[:200],
                     q=params.get("q", "").strip()[:200], page=min(page, 10_000))


def _matches(record: dict[str, Any], query: FeedQuery) -> bool:
    if query.outcome and query.outcome not in str(record.get("outcome", "")):
        return False
    if query.q:
        text = " ".join(str(record.get(k, "")) for k in (
            "id", "entity", "domain", "situation_kind", "outcome", "rationale", "decided_by",
            "event"))
        if query.q.lower() not in text.lower():
            return False
    return True


def feed(host: EngineHost, query: FeedQuery) -> dict[str, Any]:
    """One page of decisions, newest first, and whether there are more."""
    exact = {k: v for k, v in (("domain", query.domain), ("verdict", query.verdict),
                               ("entity", query.entity)) if v}
    start = (query.page - 1) * PAGE
    windowed = bool(query.outcome or query.q)
    if windowed:
        found = [r for r in host.store.decisions(limit=WINDOW, filters=exact)
                 if _matches(r, query)]
        rows, more = found[start:start + PAGE], len(found) > start + PAGE
    else:
        got = host.store.decisions(limit=PAGE + 1, offset=start, filters=exact)
        rows, more = got[:PAGE], len(got) > PAGE
    return {"rows": annotate(host, rows), "more": more, "query": query, "windowed": windowed,
            "window": WINDOW, "domains": sorted(host.config.org.domain),
            "verdicts": VERDICTS, "outcomes": OUTCOMES}


def row_class(record: dict[str, Any]) -> str:
    """The style of a feed row by what happened: failed, rejected, compensated, ..."""
    outcome = str(record.get("outcome", ""))
    for word, style in (("compensation failed", "failed"), ("compensat", "compensated"),
                        ("failed", "failed"), ("rejected", "rejected"),
                        ("denied", "denied"), ("expired", "expired"),
                        ("escalated", "escalated")):
        if word in outcome:
            return style
    return ""


def annotate(host: EngineHost, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Escalated rows with what became of them since: `since` is e.g. 'approved by raj'."""
    for row in rows:
        if str(row.get("outcome", "")).startswith("escalated"):
            esc = host.store.escalation("E" + str(row["id"])[1:])
            if esc is not None and esc.status != "open":
                who = f" by {esc.resolved_by}" if esc.resolved_by else ""
                row["since"] = f"{esc.status}{who}"
    return rows
