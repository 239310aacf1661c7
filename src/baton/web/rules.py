"""Who may call what: every route's minimum access, in one place.

A route missing here is refused at run time, and the authorization tests fail on it.
"""

from __future__ import annotations

ANONYMOUS = "anonymous"
#: outside agents only: the route itself checks the agent's token (people are refused)
AGENT = "agent"

#: (method, path template) -> the least access that may call it.
RULES: dict[tuple[str, str], str] = {
    # probes, metrics and the API description
    ("GET", "/healthz"): ANONYMOUS,
    ("GET", "/readyz"): ANONYMOUS,
    ("GET", "/metrics"): ANONYMOUS,
    ("GET", "/openapi.json"): ANONYMOUS,
    ("GET", "/docs"): ANONYMOUS,
    ("GET", "/static"): ANONYMOUS,
    # signing in and out
    ("GET", "/login"): ANONYMOUS,
    ("POST", "/login"): ANONYMOUS,
    ("POST", "/logout"): "viewer",
    # ingest
    ("POST", "/api/events"): "operator",
    ("POST", "/api/alertmanager"): "operator",
    # read
    ("GET", "/api/decisions"): "viewer",
    ("GET", "/api/decisions/{decision_id}"): "viewer",
    ("GET", "/api/escalations"): "viewer",
    ("GET", "/api/escalations/{escalation_id}"): "viewer",
    ("GET", "/api/organisation"): "viewer",
    ("GET", "/api/metrics"): "viewer",
    ("GET", "/api/policies"): "viewer",
    ("GET", "/api/kill-switch"): "viewer",
    ("GET", "/api/objectives"): "viewer",
    ("GET", "/api/picture"): "viewer",
    ("GET", "/api/audit"): "viewer",
    ("GET", "/api/work-items"): "viewer",
    ("GET", "/api/me"): "viewer",
    ("GET", "/api/cluster"): "viewer",
    # outside agents: each route checks the agent's own token (people's tokens never pass)
    ("POST", "/api/proposals"): AGENT,
    ("GET", "/api/proposals/{proposal_id}"): AGENT,
    ("GET", "/mcp"): AGENT,
    ("POST", "/mcp"): AGENT,
    ("DELETE", "/mcp"): AGENT,
    # act
    ("POST", "/api/escalations/{escalation_id}/approve"): "approver",
    ("POST", "/api/escalations/{escalation_id}/reject"): "approver",
    ("POST", "/api/escalations/{escalation_id}/modify"): "approver",
    ("POST", "/api/kill-switch"): "admin",
    ("PUT", "/api/objectives"): "admin",
    ("POST", "/api/policies/check"): "operator",
    # dashboard pages
    ("GET", "/"): "viewer",
    ("GET", "/feed"): "viewer",
    ("GET", "/inbox"): "viewer",
    ("POST", "/inbox/{escalation_id}"): "approver",
    ("GET", "/decisions/{decision_id}"): "viewer",
    ("GET", "/organisation"): "viewer",
    ("GET", "/cluster"): "viewer",
    ("GET", "/agents"): "viewer",
    ("GET", "/policies"): "viewer",
    ("POST", "/policies"): "operator",
    ("GET", "/kill-switch"): "admin",
    ("POST", "/kill-switch"): "admin",
    ("GET", "/audit"): "viewer",
    ("POST", "/audit/verify"): "operator",
    ("POST", "/audit/acknowledge"): "admin",
    ("GET", "/audit/public-key"): "viewer",
    ("GET", "/decisions/{decision_id}/proof"): "viewer",
    ("GET", "/report"): "viewer",
    ("GET", "/stream"): "viewer",
    ("GET", "/fragments/{name}"): "viewer",
    ("GET", "/incidents"): "viewer",
    # the autonomy ladder and policy proposals (widening approvals: admins, in the engine)
    ("GET", "/autonomy"): "viewer",
    ("POST", "/autonomy"): "approver",
    ("GET", "/policy-proposals"): "viewer",
    ("GET", "/api/autonomy"): "viewer",
    ("POST", "/api/autonomy"): "approver",
    ("GET", "/api/policy-proposals"): "viewer",
    ("GET", "/incidents/{incident_id}"): "viewer",
    ("GET", "/fragments/incident/{incident_id}"): "viewer",
}
