"""Generate src/baton/scenarios/itops/org.yaml: the bundled IT-operations organisation.

Deterministic: the same script always writes the same file (names, costs and working
hours come from a seeded random.Random). Run from the repository root:

    .venv/bin/python tools/gen_itops_org.py
"""

from __future__ import annotations

import random
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml

SEED = 2026
OUT = Path(__file__).resolve().parents[1] / "src/baton/scenarios/itops/org.yaml"

NY, BER, SGP = "America/New_York", "Europe/Berlin", "Asia/Singapore"
GLOBAL = [SGP, BER, NY]  # follow-the-sun order: Asia, then Europe, then the Americas

FIRST = {
    NY: ["Ava", "Marcus", "Olivia", "Jamal", "Emily", "Diego", "Hannah", "Tyler", "Grace",
         "Andre", "Megan", "Kevin", "Rachel", "Luis", "Sarah", "Brandon", "Keisha", "Owen"],
    BER: ["Lukas", "Anna", "Felix", "Lea", "Jonas", "Mia", "Paul", "Lena", "Max", "Sophie",
          "Tobias", "Clara", "Jan", "Marie", "Niklas", "Katrin", "Emre", "Greta"],
    SGP: ["Wei Ling", "Arjun", "Mei", "Daniel", "Priya", "Jun Hao", "Siti", "Ravi", "Hui Min",
          "Kumar", "Xin Yi", "Ahmad", "Li Na", "Farah", "Nur", "Ethan", "Divya", "Bryan"],
}
LAST = {
    NY: ["Johnson", "Williams", "Garcia", "Brown", "Miller", "Davis", "Rodriguez", "Walker",
         "Carter", "Brooks", "Reyes", "Murphy", "Foster", "Hayes", "Coleman", "Price"],
    BER: ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Koch",
          "Wagner", "Richter", "Klein", "Wolf", "Krüger", "Neumann", "Yilmaz", "Braun"],
    SGP: ["Tan", "Lim", "Lee", "Ng", "Ong", "Wong", "Goh", "Chua", "Koh", "Teo", "Rahman",
          "Nair", "Pillai", "Menon", "Chen", "Ismail"],
}
HOURS = ["08:00-16:00", "09:00-17:00", "09:00-17:00", "09:30-17:30", "10:00-18:00"]
COMMON_SKILLS = ["incident-response", "kubernetes", "terraform", "python", "go", "java",
                 "observability", "on-call"]

# team id -> (name, domain, time zones of its members, size incl. lead, team skills)
TEAMS: dict[str, tuple[str, str, list[str], int, list[str]]] = {
    "network": ("Network Engineering", "reliability", GLOBAL, 6, ["networking", "dns", "envoy"]),
    "storage": ("Storage & Databases", "reliability", [BER], 5,
                ["postgres", "cassandra", "backup"]),
    "messaging": ("Messaging", "reliability", [BER], 4, ["kafka", "rabbitmq"]),
    "platform": ("Platform", "reliability", GLOBAL, 6, ["kubernetes", "ci-cd", "observability"]),
    "identity": ("Identity & Access", "security", [NY], 5, ["oauth", "sso", "iam"]),
    "security-ops": ("Security Operations", "security", GLOBAL, 6, ["iam", "pki", "forensics"]),
    "data": ("Data Platform", "reliability", [SGP], 5, ["spark", "warehouse", "airflow"]),
    "payments": ("Payments", "reliability", [BER], 6, ["payments", "pci", "postgres"]),
    "checkout": ("Checkout", "reliability", [BER], 5, ["checkout", "pricing", "redis"]),
    "billing": ("Billing", "reliability", [NY], 4, ["billing", "invoicing", "postgres"]),
    "search": ("Search & Discovery", "reliability", [SGP], 5, ["elasticsearch", "ranking"]),
    "mobile": ("Mobile", "reliability", [SGP], 5, ["ios", "android", "push"]),
    "web": ("Web", "reliability", [NY], 5, ["react", "cdn", "seo"]),
    "finops": ("FinOps", "cost", [NY], 4, ["cloud-cost", "capacity-planning", "sql"]),
    "support-desk": ("Customer Support", "support", GLOBAL, 6, ["zendesk", "triage", "sql"]),
}
FOLLOW_THE_SUN = {"network", "platform", "security-ops", "support-desk"}
MEMBER_ROLE = {"security-ops": "security", "support-desk": "support"}

# manager key -> (title, teams managed, director key); director key -> (skill, zone, team)
MANAGERS = {
    "commerce": ("Engineering Manager, Commerce", ["payments", "checkout", "billing"], "product"),
    "discovery": ("Engineering Manager, Discovery", ["search", "mobile", "web"], "product"),
    "infra": ("Engineering Manager, Infrastructure",
              ["platform", "network", "storage", "messaging"], "infra"),
    "data-id": ("Engineering Manager, Data & Identity", ["data", "identity"], "infra"),
    "finops": ("Head of FinOps", ["finops"], "infra"),
    "security": ("Security Manager", ["security-ops"], "security"),
    "support": ("Support Manager", ["support-desk"], "customer"),
}
DIRECTORS = {
    "product": ("product-engineering", BER, "payments"),
    "infra": ("infrastructure", NY, "platform"),
    "security": ("security", NY, "security-ops"),
    "customer": ("customer-experience", SGP, "support-desk"),
}

# Service catalogue, bottom of the stack first: (id, team, tier, dependencies).
# Layers: foundations, platform, domain services, customer-facing entry points.
FOUNDATIONS = [
    ("core-network", "network", 0, []),
    ("dns", "network", 0, ["core-network"]),
    ("service-mesh", "network", 0, ["core-network", "dns"]),
    ("edge-load-balancer", "network", 0, ["core-network", "dns"]),
    ("secrets-vault", "security-ops", 0, ["core-network"]),
    ("pki", "security-ops", 1, ["core-network", "secrets-vault"]),
    ("postgres-main", "storage", 0, ["core-network", "secrets-vault"]),
    ("postgres-ledger", "storage", 0, ["core-network", "secrets-vault"]),
    ("redis-cache", "storage", 1, ["core-network"]),
    ("object-store", "storage", 1, ["core-network"]),
    ("cassandra-events", "storage", 1, ["core-network"]),
    ("elasticsearch", "storage", 1, ["core-network"]),
    ("kafka", "messaging", 0, ["core-network", "dns"]),
    ("rabbitmq", "messaging", 1, ["core-network", "dns"]),
    ("identity-provider", "identity", 0, ["postgres-main", "secrets-vault", "service-mesh"]),
]
PLATFORM = [
    ("k8s-control-plane", "platform", 1, ["core-network", "dns", "secrets-vault"]),
    ("container-registry", "platform", 2, ["object-store", "k8s-control-plane"]),
    ("config-service", "platform", 1, ["service-mesh", "postgres-main"]),
    ("feature-flags", "platform", 1, ["config-service", "redis-cache"]),
    ("service-discovery", "platform", 1, ["service-mesh", "k8s-control-plane"]),
    ("job-scheduler", "platform", 2, ["k8s-control-plane", "postgres-main"]),
    ("ci-runner", "platform", 3, ["container-registry", "secrets-vault"]),
    ("artifact-store", "platform", 3, ["object-store"]),
    ("metrics-pipeline", "platform", 2, ["kafka", "cassandra-events"]),
    ("log-pipeline", "platform", 2, ["kafka", "elasticsearch"]),
    ("tracing-collector", "platform", 3, ["kafka"]),
    ("alert-manager", "platform", 1, ["metrics-pipeline"]),
    ("internal-api-gateway", "platform", 1,
     ["service-mesh", "service-discovery", "identity-provider"]),
    ("event-bus-router", "messaging", 1, ["kafka", "service-mesh"]),
    ("notification-hub", "messaging", 2, ["rabbitmq", "event-bus-router"]),
    ("email-gateway", "messaging", 2, ["rabbitmq"]),
    ("sms-gateway", "messaging", 2, ["rabbitmq"]),
    ("webhook-dispatcher", "messaging", 2, ["kafka", "event-bus-router"]),
    ("token-service", "identity", 1, ["identity-provider", "redis-cache"]),
    ("session-store", "identity", 1, ["redis-cache"]),
    ("permissions-service", "identity", 1, ["postgres-main", "token-service"]),
    ("mfa-service", "identity", 1, ["identity-provider", "sms-gateway"]),
    ("user-directory", "identity", 2, ["postgres-main", "identity-provider"]),
    ("etl-orchestrator", "data", 3, ["job-scheduler", "kafka"]),
    ("data-lake", "data", 2, ["object-store"]),
    ("warehouse", "data", 2, ["data-lake", "postgres-main"]),
    ("stream-processor", "data", 2, ["kafka", "redis-cache"]),
    ("feature-store", "data", 2, ["redis-cache", "data-lake"]),
    ("analytics-ingest", "data", 3, ["kafka", "data-lake"]),
    ("audit-log", "security-ops", 1, ["kafka", "elasticsearch"]),
    ("waf-rules", "security-ops", 1, ["edge-load-balancer", "config-service"]),
    ("vuln-scanner", "security-ops", 3, ["container-registry"]),
    ("siem-pipeline", "security-ops", 2, ["log-pipeline", "audit-log"]),
    ("cdn-config", "network", 1, ["edge-load-balancer", "object-store"]),
    ("rate-limiter", "network", 1, ["redis-cache", "service-mesh"]),
    ("db-proxy", "storage", 1, ["postgres-main", "postgres-ledger", "service-mesh"]),
    ("backup-service", "storage", 2, ["object-store", "postgres-main", "postgres-ledger"]),
    ("cache-warmer", "storage", 3, ["redis-cache", "job-scheduler"]),
    ("cost-exporter", "finops", 3, ["metrics-pipeline", "warehouse"]),
    ("budget-api", "finops", 3, ["postgres-main", "cost-exporter"]),
    ("tagging-auditor", "finops", 3, ["k8s-control-plane"]),
]
# Every domain service of a team also depends on the team's usual platform pieces.
TEAM_BASE = {
    "payments": ["db-proxy", "secrets-vault"], "checkout": ["db-proxy", "event-bus-router"],
    "billing": ["postgres-ledger", "job-scheduler"], "search": ["elasticsearch", "config-service"],
    "identity": ["token-service"], "mobile": ["feature-flags"], "web": ["config-service"],
    "support-desk": ["db-proxy"], "data": ["warehouse"],
}
DOMAIN = [
    ("currency-rates", "payments", 3, []),
    ("card-vault-adapter", "payments", 1, ["pki"]),
    ("payment-methods", "payments", 1, ["card-vault-adapter"]),
    ("fraud-scoring", "payments", 1, ["feature-store"]),
    ("risk-rules", "payments", 2, ["fraud-scoring", "config-service"]),
    ("psp-router", "payments", 1, ["card-vault-adapter", "currency-rates"]),
    ("payment-authorizer", "payments", 1, ["psp-router", "fraud-scoring", "risk-rules"]),
    ("payment-capture", "payments", 1, ["payment-authorizer"]),
    ("ledger-writer", "payments", 1, ["postgres-ledger", "kafka"]),
    ("refund-service", "payments", 2, ["payment-capture", "ledger-writer"]),
    ("payout-service", "payments", 2, ["ledger-writer", "webhook-dispatcher"]),
    ("chargeback-service", "payments", 2, ["ledger-writer", "email-gateway"]),
    ("merchant-service", "payments", 2, []),
    ("reconciliation-job", "payments", 3, ["ledger-writer", "etl-orchestrator"]),
    ("pricing-engine", "checkout", 1, ["feature-flags"]),
    ("promotions", "checkout", 2, ["pricing-engine"]),
    ("tax-calculator", "checkout", 1, []),
    ("inventory-reservation", "checkout", 1, ["cassandra-events"]),
    ("address-validation", "checkout", 2, []),
    ("shipping-quotes", "checkout", 2, ["address-validation"]),
    ("cart-service", "checkout", 1, ["pricing-engine", "promotions", "session-store"]),
    ("checkout-session", "checkout", 1, ["cart-service", "session-store"]),
    ("order-service", "checkout", 1, ["cart-service", "inventory-reservation", "tax-calculator",
                                      "shipping-quotes", "payment-authorizer"]),
    ("gift-cards", "checkout", 2, ["ledger-writer"]),
    ("order-history", "checkout", 2, ["order-service", "cassandra-events"]),
    ("receipts", "checkout", 3, ["order-service", "email-gateway"]),
    ("usage-metering", "billing", 1, ["stream-processor"]),
    ("billing-ledger", "billing", 1, ["ledger-writer"]),
    ("plan-catalog", "billing", 2, []),
    ("subscription-service", "billing", 1, ["billing-ledger", "usage-metering", "plan-catalog"]),
    ("invoice-service", "billing", 1, ["subscription-service", "tax-calculator"]),
    ("pdf-renderer", "billing", 3, ["object-store"]),
    ("credit-notes", "billing", 2, ["invoice-service", "pdf-renderer"]),
    ("dunning-worker", "billing", 2, ["invoice-service", "email-gateway", "payment-capture"]),
    ("revenue-reporting", "billing", 3, ["billing-ledger", "warehouse"]),
    ("catalog-service", "search", 1, ["postgres-main", "object-store"]),
    ("search-indexer", "search", 2, ["catalog-service", "kafka"]),
    ("spellcheck", "search", 3, []),
    ("ranking-service", "search", 1, ["feature-store"]),
    ("query-service", "search", 1, ["spellcheck", "ranking-service", "catalog-service"]),
    ("autocomplete", "search", 1, ["query-service"]),
    ("recommendations", "search", 2, ["feature-store", "catalog-service"]),
    ("merchandising", "search", 2, ["catalog-service", "ranking-service"]),
    ("product-reviews", "search", 2, ["catalog-service", "postgres-main"]),
    ("search-analytics", "search", 3, ["analytics-ingest"]),
    ("account-service", "identity", 1, ["postgres-main"]),
    ("consent-service", "identity", 2, ["account-service", "audit-log"]),
    ("sso-connector", "identity", 1, ["account-service"]),
    ("password-reset", "identity", 2, ["account-service", "email-gateway"]),
    ("fraud-signals", "identity", 2, ["account-service", "feature-store"]),
    ("mobile-config", "mobile", 1, []),
    ("app-feature-gate", "mobile", 2, ["mobile-config"]),
    ("device-registry", "mobile", 2, ["cassandra-events"]),
    ("push-notifications", "mobile", 2, ["device-registry", "notification-hub"]),
    ("mobile-sync", "mobile", 2, ["device-registry", "account-service"]),
    ("deep-link-service", "mobile", 3, ["catalog-service"]),
    ("in-app-messaging", "mobile", 3, ["push-notifications"]),
    ("mobile-analytics", "mobile", 3, ["analytics-ingest"]),
    ("localization", "web", 2, ["object-store"]),
    ("content-service", "web", 1, ["localization", "postgres-main"]),
    ("image-resizer", "web", 2, ["object-store", "cdn-config"]),
    ("seo-renderer", "web", 2, ["content-service", "catalog-service"]),
    ("ab-testing", "web", 2, ["feature-flags", "feature-store"]),
    ("sitemap-generator", "web", 3, ["catalog-service", "job-scheduler"]),
    ("web-session-gateway", "web", 1, ["session-store", "token-service"]),
    ("wishlist", "web", 3, ["catalog-service", "account-service"]),
    ("store-locator", "web", 3, ["content-service"]),
    ("customer-profile", "support-desk", 1, ["account-service"]),
    ("ticketing-backend", "support-desk", 1, ["customer-profile"]),
    ("knowledge-base", "support-desk", 2, ["elasticsearch", "content-service"]),
    ("chat-service", "support-desk", 1, ["ticketing-backend", "event-bus-router"]),
    ("sla-tracker", "support-desk", 2, ["ticketing-backend"]),
    ("status-page-backend", "support-desk", 1, ["alert-manager", "cdn-config"]),
    ("survey-service", "support-desk", 3, ["ticketing-backend", "email-gateway"]),
    ("macros-service", "support-desk", 3, ["ticketing-backend"]),
    ("reporting-api", "data", 2, []),
    ("export-service", "data", 3, ["reporting-api", "object-store"]),
    ("ml-scoring", "data", 2, ["feature-store"]),
    ("partner-feeds", "data", 3, ["export-service"]),
    ("data-quality", "data", 3, []),
]
EDGE = [
    ("web-storefront", "web", 0, ["edge-load-balancer", "waf-rules", "cdn-config",
                                  "web-session-gateway", "content-service", "seo-renderer",
                                  "image-resizer", "query-service", "cart-service",
                                  "recommendations", "ab-testing"]),
    ("www-marketing", "web", 2, ["cdn-config", "content-service", "localization"]),
    ("gift-card-store", "web", 2, ["gift-cards", "web-session-gateway"]),
    ("checkout-web", "checkout", 0, ["edge-load-balancer", "waf-rules", "checkout-session",
                                     "order-service", "address-validation", "gift-cards"]),
    ("checkout-api", "checkout", 0, ["internal-api-gateway", "rate-limiter", "order-service",
                                     "checkout-session"]),
    ("payments-api", "payments", 0, ["internal-api-gateway", "rate-limiter",
                                     "payment-authorizer", "payment-capture", "refund-service",
                                     "payment-methods"]),
    ("merchant-dashboard", "payments", 1, ["web-session-gateway", "merchant-service",
                                           "payout-service", "chargeback-service",
                                           "reporting-api"]),
    ("payout-portal", "payments", 2, ["payout-service", "web-session-gateway"]),
    ("billing-portal", "billing", 1, ["web-session-gateway", "invoice-service", "credit-notes",
                                      "subscription-service"]),
    ("billing-api", "billing", 1, ["internal-api-gateway", "subscription-service",
                                   "invoice-service", "usage-metering"]),
    ("search-api", "search", 0, ["internal-api-gateway", "rate-limiter", "query-service",
                                 "autocomplete", "merchandising"]),
    ("login-web", "identity", 0, ["edge-load-balancer", "waf-rules", "identity-provider",
                                  "mfa-service", "sso-connector", "password-reset"]),
    ("oauth-api", "identity", 0, ["internal-api-gateway", "token-service", "identity-provider",
                                  "consent-service"]),
    ("account-portal", "identity", 1, ["web-session-gateway", "account-service",
                                       "consent-service"]),
    ("mobile-api", "mobile", 0, ["internal-api-gateway", "rate-limiter", "mobile-config",
                                 "app-feature-gate", "mobile-sync", "query-service",
                                 "cart-service", "order-service", "push-notifications"]),
    ("mobile-bff-ios", "mobile", 1, ["mobile-config", "deep-link-service", "in-app-messaging",
                                     "mobile-analytics"]),
    ("mobile-bff-android", "mobile", 1, ["mobile-config", "deep-link-service",
                                         "in-app-messaging", "mobile-analytics"]),
    ("public-api-gateway", "platform", 0, ["edge-load-balancer", "waf-rules", "rate-limiter",
                                           "internal-api-gateway", "oauth-api"]),
    ("developer-portal", "platform", 2, ["content-service", "oauth-api"]),
    ("support-portal", "support-desk", 1, ["web-session-gateway", "ticketing-backend",
                                           "knowledge-base", "customer-profile"]),
    ("live-chat-widget", "support-desk", 2, ["chat-service", "cdn-config"]),
    ("status-page", "support-desk", 1, ["status-page-backend", "cdn-config"]),
    ("help-center", "support-desk", 2, ["knowledge-base", "cdn-config", "localization"]),
    ("partner-reports-api", "data", 2, ["internal-api-gateway", "reporting-api",
                                        "partner-feeds"]),
]
# (layer, catalogue, hourly cost range in USD)
LAYERS = [("foundation", FOUNDATIONS, (40.0, 120.0)), ("platform", PLATFORM, (8.0, 40.0)),
          ("domain", DOMAIN, (3.0, 20.0)), ("edge", EDGE, (5.0, 30.0))]

HEADER = """\
# The bundled `itops` organisation: generated by tools/gen_itops_org.py (do not edit by hand).
#
# Tier convention (as everywhere in Baton): tier 0 = most critical, tier 3 = least.
#   tier 0: customer-facing entry points (web-storefront, checkout-api, login-web, ...) and
#           the foundations everything rests on (core-network, dns, postgres-main, kafka,
#           identity-provider, secrets-vault, ...). Restarts here need the on-call's approval.
#   tier 1: services that money or logins flow through, and the key platform services.
#   tier 2: supporting services; tier 3: internal tooling and batch jobs.
# The stack has four layers, bottom up: foundations -> platform -> domain -> edge.
# Dependencies only point down the stack (or to a service listed earlier in the same layer),
# so the graph is a DAG; a foundation failure cascades up to everything above it.
"""


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.replace("ü", "ue")).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9]+", "", plain.decode().lower())


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def new(self, zone: str) -> tuple[str, str]:
        for _ in range(1000):
            first, last = self.rng.choice(FIRST[zone]), self.rng.choice(LAST[zone])
            name, pid = f"{first} {last}", f"{_ascii(first)}.{_ascii(last)}"
            if pid not in self.used:
                self.used.add(pid)
                return pid, name
        raise RuntimeError("ran out of names")


# What each job role may do in Baton: on-call engineers answer escalations, so they approve.
ACCESS = {"director": "admin", "manager": "approver", "lead": "approver",
          "engineer": "approver", "security": "approver", "support": "operator",
          "auditor": "viewer"}


def _person(rng: random.Random, pid: str, name: str, role: str, team: str, zone: str,
            skills: list[str], capacity: int, reports_to: str | None) -> dict[str, Any]:
    extra = rng.sample(COMMON_SKILLS, 2)
    person: dict[str, Any] = {
        "id": pid, "name": name, "role": role, "team": team, "timezone": zone,
        "working_hours": rng.choice(HOURS), "skills": sorted(set(skills + extra)),
        "capacity": capacity, "access": ACCESS.get(role, "viewer"),
    }
    if reports_to is not None:
        person["reports_to"] = reports_to
    return person


def build_people(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[str]],
                                              dict[str, str]]:
    """People, team members by team, and the domain owners."""
    names = _Names(rng)
    directors: dict[str, dict[str, Any]] = {}
    for key, (skill, zone, team) in DIRECTORS.items():
        pid, name = names.new(zone)
        directors[key] = _person(rng, pid, name, "director", team, zone,
                                 ["leadership", skill], 1, None)
    managers: dict[str, dict[str, Any]] = {}
    for key, (_title, teams, director) in MANAGERS.items():
        zone = TEAMS[teams[0]][2][0]
        pid, name = names.new(zone)
        managers[key] = _person(rng, pid, name, "manager", teams[0], zone,
                                ["people-management", *TEAMS[teams[0]][4][:1]], 2,
                                directors[director]["id"])
    manager_of = {t: managers[k]["id"] for k, (_, teams, _) in MANAGERS.items() for t in teams}
    people: list[dict[str, Any]] = []
    members: dict[str, list[str]] = {}
    for team, (_name, _domain, zones, size, skills) in TEAMS.items():
        lead_id = ""
        for i in range(size):
            zone = zones[i % len(zones)]
            pid, name = names.new(zone)
            role = "lead" if i == 0 else MEMBER_ROLE.get(team, "engineer")
            boss = manager_of[team] if i == 0 else lead_id
            people.append(_person(rng, pid, name, role, team, zone, skills,
                                  2 if i == 0 else rng.randint(3, 5), boss))
            members.setdefault(team, []).append(pid)
            lead_id = lead_id or pid
    owners = {"reliability": directors["infra"]["id"], "cost": managers["finops"]["id"],
              "security": directors["security"]["id"], "support": directors["customer"]["id"]}
    return [*directors.values(), *managers.values(), *people], members, owners


def build_services(rng: random.Random) -> list[dict[str, Any]]:
    """Services of all four layers, dependencies pointing down the stack."""
    services: list[dict[str, Any]] = []
    seen: set[str] = set()
    for layer, catalogue, (low, high) in LAYERS:
        for sid, team, tier, deps in catalogue:
            base = TEAM_BASE.get(team, []) if layer == "domain" else []
            all_deps = list(dict.fromkeys([*base, *deps]))
            unknown = [d for d in all_deps if d not in seen]
            if unknown or sid in seen:
                raise SystemExit(f"{sid}: dependencies must be listed earlier: {unknown}")
            services.append({
                "id": sid, "tier": tier, "team": team, "dependencies": all_deps,
                "hourly_cost": round(rng.uniform(low, high) * (1.4 if tier == 0 else 1.0), 2),
                "customer_facing": layer == "edge",
            })
            seen.add(sid)
    return services


def build() -> dict[str, Any]:
    """The whole organisation document."""
    rng = random.Random(SEED)
    people, members, owners = build_people(rng)
    by_id = {p["id"]: p for p in people}
    domains = [{"id": d, "name": d.capitalize(), "owner": owners[d]}
               for d in ("reliability", "cost", "security", "support")]
    teams = [{"id": t, "name": spec[0], "domain": spec[1], "lead": members[t][0]}
             for t, spec in TEAMS.items()]
    rotations: list[dict[str, Any]] = []
    for team in TEAMS:
        rota = members[team]
        if team in FOLLOW_THE_SUN:  # by time zone; within one, the lead takes the last turn
            rota = sorted(rota, key=lambda p, lead=rota[0]: (
                GLOBAL.index(by_id[p]["timezone"]), p == lead))
        rotations.append({"id": f"{team}-oncall", "team": team, "members": rota,
                          "period_hours": 168, "start": "2026-01-05T00:00:00Z",
                          "follow_the_sun": team in FOLLOW_THE_SUN})
    services = build_services(rng)
    # An auditor who may look at everything and change nothing.
    auditor = _person(rng, "audit-1", "Robin Auditor", "auditor", "security-ops",
                      "Europe/Berlin", ["compliance"], 1, owners["security"])
    people.append(auditor)
    return {
        "name": "Acme Commerce IT operations",
        "timezone": "UTC",
        "domains": domains,
        "teams": teams,
        "people": people,
        "rotations": rotations,
        "services": services,
        "budgets": [{"domain": "reliability", "daily": 1500}, {"domain": "cost", "daily": 2000},
                    {"domain": "security", "daily": 500}, {"domain": "support", "daily": 300}],
        "freezes": [{"id": "quarter-start-billing-run", "start": "2026-03-02T14:00:00Z",
                     "end": "2026-03-02T16:00:00Z", "domains": ["reliability"],
                     "reason": "quarter-start billing run: no production changes"}],
        # An outside AI agent, governed like Baton's own (docs/agents.md).
        "agents": [{"id": "sre-copilot", "name": "SRE copilot", "owner": owners["reliability"],
                    "domain": "reliability", "actions": ["restart", "rollback", "scale_out"],
                    "budget": 300, "rate_limit": {"count": 30, "minutes": 60}}],
    }


def main() -> int:
    """Write org.yaml next to the scenario's other files."""
    doc = build()
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)
    OUT.write_text(HEADER + body, encoding="utf-8")
    print(f"wrote {OUT} ({len(doc['people'])} people, {len(doc['services'])} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
