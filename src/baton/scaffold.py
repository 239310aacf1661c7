"""`baton init`: a small, working configuration to start from."""

from __future__ import annotations

from pathlib import Path

from baton.errors import ConfigError

FILES: dict[str, str] = {
    "baton.yaml": """\
# How the engine behaves. See docs/configuration.md.
name: starter
seed: 1
objectives: {speed: 1.0, cost: 1.0, risk: 1.0, customer_impact: 1.0}
autonomy:
  default: autonomous        # observe | shadow | approve | autonomous
  domains: {}
  actions: {}
escalation:
  sla_minutes: {0: 15, 1: 30, 2: 60, 3: 240, 4: 480}
detectors:
  - {id: down, kind: match, event: service.down, situation: service_down,
     domain: reliability, severity_from_tier: true}
  - {id: errors, kind: threshold, event: alert, metric: error_rate, above: 0.05,
     situation: service_degraded, domain: reliability, severity_from_tier: true}
  - {id: cpu, kind: threshold, event: alert, metric: cpu_util, above: 0.9,
     situation: saturation, domain: reliability}
  - {id: spend, kind: anomaly, event: cost.sample, field: cost_per_hour, window: 24,
     z: 3.0, min_samples: 6, situation: cost_anomaly, domain: cost}
connectors:
  default: sim
""",
    "org.yaml": """\
# Teams, people, rotations and services. Tier 0 is the most critical.
name: starter
timezone: UTC
domains:
  - {id: reliability, owner: ana}
  - {id: cost, owner: ben}
teams:
  - {id: platform, domain: reliability, lead: ana}
  - {id: finops, domain: cost, lead: ben}
people:  # access: viewer < operator < approver < admin (what they may do in Baton)
  - {id: ana, role: lead, team: platform, timezone: Europe/Berlin, skills: [linux, db],
     access: admin}
  - {id: raj, role: engineer, team: platform, timezone: Asia/Singapore,
     reports_to: ana, skills: [linux], access: approver}
  - {id: sue, role: engineer, team: platform, timezone: America/New_York,
     reports_to: ana, skills: [db], access: approver}
  - {id: ben, role: lead, team: finops, timezone: Europe/Berlin, skills: [cost],
     access: approver}
  - {id: ola, role: analyst, team: finops, timezone: Europe/Berlin, reports_to: ben,
     access: operator}
  - {id: vic, role: auditor, team: finops, timezone: America/New_York, reports_to: ben}
rotations:
  - {id: platform-oncall, team: platform, members: [raj, sue, ana], follow_the_sun: true}
services:
  - {id: db, tier: 1, team: platform, hourly_cost: 20}
  - {id: api, tier: 0, team: platform, dependencies: [db], customer_facing: true,
     hourly_cost: 10}
  - {id: worker, tier: 2, team: platform, dependencies: [db], hourly_cost: 5}
  - {id: reports, tier: 3, team: finops, dependencies: [worker], hourly_cost: 2}
budgets:
  - {domain: reliability, daily: 500}
  - {domain: cost, daily: 200}
freezes: []
""",
    "playbooks.yaml": """\
# What each agent proposes for each situation kind, best candidates first.
agents:
  - id: reliability-agent
    domain: reliability
    playbooks:
      service_down:
        - {action: restart, risk: 20, minutes: 3, customer_impact: 80, confidence: 0.9,
           effect: "{entity} serves again within minutes",
           rationale: "{entity} is down; a restart clears a crashed process"}
      service_degraded:
        - {action: rollback, requires: [recent_deploy], risk: 15, minutes: 5,
           customer_impact: 80, compensation: deploy,
           effect: "{entity} returns to {facts[previous_version]}",
           rationale: "errors on {entity} began {facts[minutes_since_deploy]} min after deploy"}
        - {action: restart, risk: 20, minutes: 3, customer_impact: 50,
           effect: "{entity} restarts", rationale: "{entity} is failing requests"}
      saturation:
        - {action: scale_out, amount: 50, cost: 50, risk: 10, minutes: 4,
           customer_impact: 60, compensation: scale_in,
           effect: "{entity} gets more capacity", rationale: "{entity} is saturated"}
  - id: cost-agent
    domain: cost
    playbooks:
      cost_anomaly:
        - {action: scale_in, risk: 30, minutes: 10, customer_impact: 0,
           compensation: scale_out, effect: "{entity} costs less",
           rationale: "{entity} spends far above its usual rate"}
""",
    "policies/reliability.cedar": """\
@id("restart-below-tier0") @verdict("autonomous")
permit (principal, action == Action::"restart", resource)
when { context.tier > 0 };

@id("restart-tier0-oncall") @verdict("approval") @approver("oncall")
permit (principal, action == Action::"restart", resource)
when { context.tier == 0 };

@id("rollback-recent-deploy") @verdict("autonomous")
permit (principal, action == Action::"rollback", resource)
when { context.minutes_since_deploy >= 0 && context.minutes_since_deploy <= 60 };

@id("scale-out-in-budget") @verdict("autonomous")
permit (principal, action == Action::"scale_out", resource)
when { context.amount <= context.budget_left };

@id("scale-out-over-budget") @verdict("approval") @approver("team_lead")
permit (principal, action == Action::"scale_out", resource);

@id("freeze-only-rollback") @reason("change freeze: only rollbacks run")
forbid (principal, action, resource)
when { context.freeze }
unless { action == Action::"rollback" };
""",
    "policies/coordination.cedar": """\
// Joint plans tell each team that owns a dependent of a failed service, once.
@id("notify-dependent-teams") @verdict("autonomous")
permit (principal, action == Action::"notify_team", resource);
""",
    "policies/cost.cedar": """\
@id("scale-in-low-risk") @verdict("autonomous")
permit (principal, action == Action::"scale_in", resource)
when { context.risk <= 30 && context.tier > 0 };

@id("never-delete-data") @reason("deleting data is never automated")
forbid (principal, action == Action::"delete_data", resource);
""",
}


def scaffold(root: Path) -> list[Path]:
    """Write a starter configuration into `root`; refuses to overwrite existing files."""
    targets = [root / name for name in FILES]
    existing = [p for p in targets if p.exists()]
    if existing:
        raise ConfigError("already exists; nothing was written", file=str(existing[0]))
    for path, text in zip(targets, FILES.values(), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return targets
