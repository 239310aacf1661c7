"""A configuration directory: baton.yaml, org.yaml, playbooks.yaml and policies/*.cedar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from baton.errors import ConfigError
from baton.model import Objectives
from baton.org.loader import load_organisation
from baton.org.model import Organisation
from baton.yamlsrc import Located, load_yaml

AutonomyLevel = Literal["observe", "shadow", "approve", "autonomous"]
LEVELS: tuple[str, ...] = ("observe", "shadow", "approve", "autonomous")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ClassPart = Literal["domain", "situation", "action"]


def _all_parts() -> list[ClassPart]:
    return ["domain", "situation", "action"]


class Ladder(_Strict):
    """How outcomes are judged, and when the ladder demotes a class or recommends one."""

    effect_window_minutes: float = Field(default=30.0, gt=0)  # after which an outcome is set
    clears: list[str] = Field(default_factory=lambda: ["service.recovered", "ticket.resolved"])
    reverts: list[str] = Field(default_factory=lambda: ["action.reverted"])
    approval_minutes: float = Field(default=5.0, ge=0)  # a person's effort per answer
    breaker_window: int = Field(default=10, ge=1)  # recent outcomes the breaker looks at
    breaker_min: int = Field(default=3, ge=1)  # outcomes needed before it may trip
    breaker_rate: float = Field(default=0.5, gt=0, le=1)  # failure/override rate that trips
    promote_min: int = Field(default=20, ge=1)  # decisions of evidence for a promotion
    promote_lower: float = Field(default=0.8, gt=0, le=1)  # the Wilson lower bound needed
    #: the action that tells a domain's owner their class was demoted, sent through the
    #: connectors like any other (None: the ledger record and the status page only)
    notify_action: str | None = "notify_person"


class Autonomy(_Strict):
    """The most a domain or action kind may do on its own; the lower of the two applies.

    A decision class (domain x situation kind x action kind, or the parts `granularity`
    names) may have its own level: from `classes` at start, then from the live ladder.
    """

    default: AutonomyLevel = "autonomous"
    domains: dict[str, AutonomyLevel] = Field(default_factory=dict)
    actions: dict[str, AutonomyLevel] = Field(default_factory=dict)
    granularity: list[ClassPart] = Field(default_factory=_all_parts, min_length=1)
    classes: dict[str, AutonomyLevel] = Field(default_factory=dict)
    ladder: Ladder = Ladder()

    def level(self, domain: str, action: str) -> str:
        """The autonomy level for an action kind in a domain."""
        a = self.domains.get(domain, self.default)
        b = self.actions.get(action, "autonomous")
        return LEVELS[min(LEVELS.index(a), LEVELS.index(b))]


class _Detector(_Strict):
    id: str
    situation: str
    domain: str
    severity: int = Field(default=2, ge=0, le=4)
    severity_from_tier: bool = False  # severity = the service's tier (0 = most severe)


class MatchDetector(_Detector):
    """Every event of a type raises a situation."""

    kind: Literal["match"]
    event: str
    where: dict[str, Any] = Field(default_factory=dict)  # attrs that must equal these


class ThresholdDetector(_Detector):
    """A metric above (or below) a bound raises a situation."""

    kind: Literal["threshold"]
    event: str
    field: str = "value"
    metric: str | None = None  # match attrs.metric when set
    above: float | None = None
    below: float | None = None


class RateOfChangeDetector(_Detector):
    """A metric that grows by `factor` within a window raises a situation."""

    kind: Literal["rate_of_change"]
    event: str
    field: str = "value"
    metric: str | None = None
    window_minutes: float = Field(default=15, gt=0)
    factor: float = Field(default=2.0, gt=1)


class AnomalyDetector(_Detector):
    """A value more than `z` standard deviations from its rolling mean raises a situation."""

    kind: Literal["anomaly"]
    event: str
    field: str
    metric: str | None = None
    window: int = Field(default=24, ge=3)
    z: float = Field(default=3.0, gt=0)
    min_samples: int = Field(default=8, ge=3)
    direction: Literal["up", "down", "both"] = "both"  # which deviations count


class SlaTimerDetector(_Detector):
    """An SLA clock started by one event and stopped by another; fires in virtual time."""

    kind: Literal["sla_timer"]
    start: str
    stop: str
    minutes: float = Field(default=240, gt=0)
    minutes_by: str | None = None  # attribute of the start event that picks the SLA
    minutes_map: dict[str, float] = Field(default_factory=dict)
    warn_at: float = Field(default=0.8, gt=0, le=1)  # fraction of the SLA when it fires


class ComplianceDetector(_Detector):
    """An event that breaks a rule raises a situation."""

    kind: Literal["compliance"]
    event: str
    require: dict[str, Any] = Field(default_factory=dict)  # attrs that must equal these
    allowed: dict[str, list[Any]] = Field(default_factory=dict)  # attrs that must be in these


Detector = Annotated[
    MatchDetector | ThresholdDetector | RateOfChangeDetector | AnomalyDetector
    | SlaTimerDetector | ComplianceDetector,
    Field(discriminator="kind"),
]


class HttpTarget(_Strict):
    """Where the http connector posts actions."""

    url: str
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.2


class Connectors(_Strict):
    """Which connector carries which action kind."""

    default: Literal["sim", "http", "command", "queue"] = "sim"
    routes: dict[str, Literal["sim", "http", "command", "queue"]] = Field(default_factory=dict)
    http: HttpTarget | None = None
    command: dict[str, list[str]] = Field(default_factory=dict)  # action kind -> argv template
    #: execution workers carrying effects out beside the engine (embedded default)
    workers: int = Field(default=4, ge=1, le=64)
    #: modelled latency per connector in virtual time: a result is folded in at the
    #: decision's time plus this many seconds (replay, simulation, headless demo)
    latency_s: dict[Literal["sim", "http", "command", "queue"], float] = Field(
        default_factory=dict)


class Escalation(_Strict):
    """How long each step of an escalation chain has to answer, and what cannot wait."""

    sla_minutes: dict[int, float] = Field(
        default_factory=lambda: {0: 15.0, 1: 30.0, 2: 60.0, 3: 240.0, 4: 480.0})
    # Escalations of this severity or worse follow the sun: an off-hours primary is passed
    # over for an eligible person in working hours (-1: never).
    urgent_severity: int = Field(default=1, ge=-1, le=4)
    # A role step (an approver such as "security") pages at most this many of the role's
    # members, nearest the matter's team in the reporting lines first.
    role_pages: int = Field(default=3, ge=1)


class Coordination(_Strict):
    """Correlation, joint plans and conflict arbitration."""

    correlation_minutes: float = Field(default=60, gt=0)
    conflict_minutes: float = Field(default=30, gt=0)
    # Pairs of action kinds that exclude each other on one resource (scale-out vs scale-in,
    # deploy vs a deploy hold) while the first one's claim lasts.
    exclusive: list[tuple[str, str]] = Field(
        default_factory=lambda: [("scale_out", "scale_in"), ("deploy", "rollback")])
    # Action kinds that take their resource for the conflict window: any other of these
    # on the same resource in an overlapping window conflicts and is arbitrated.
    holds: list[str] = Field(default_factory=list)
    # Joint plans: when a new incident's root has dependents, every agent with a playbook
    # for `impact_situation` is consulted in the same step, and each team owning a
    # dependent is told once by `notify_action` (None: no notices).
    fanout: bool = True
    impact_situation: str = "dependency_impact"
    notify_action: str | None = "notify_team"
    # Notices are sized to the blast radius (see baton.engine.notices): teams with a
    # dependent within `notify_hops` hops, of tier `notify_tier` or lower, or degraded now;
    # a team told in the last `digest_minutes` is not told again, the plan joins its digest.
    notify_hops: int = Field(default=2, ge=1)
    notify_tier: int = Field(default=0, ge=0, le=3)
    digest_minutes: float = Field(default=60, ge=0)
    # Work that needs people (tickets, incident response) is assigned once per virtual
    # minute by the optimiser; expected effort in minutes per kind of work.
    dispatch: bool = True
    work_minutes: dict[str, float] = Field(
        default_factory=lambda: {"ticket": 20.0, "incident": 120.0})


class Audit(_Strict):
    """Signed checkpoints of the ledger: how often, and which witnesses get them."""

    checkpoint_minutes: float | None = Field(default=60.0, gt=0)  # None: on demand only
    witness_dir: str | None = None  # a folder (relative to the configuration directory)
    witness_url: str | None = None  # an HTTP endpoint each checkpoint is POSTed to
    signing_key: str | None = None  # the key file (else $BATON_SIGNING_KEY, else beside the db)
    # Live runs check every table people read against the ledger this often (None: at
    # start only), and hold processing on a contradiction; at start the check runs before
    # processing when the ledger has at most `check_at_start_rows` rows (else beside it).
    verify_minutes: float | None = Field(default=10.0, gt=0)
    check_at_start_rows: int = Field(default=20_000, ge=0)


class Web(_Strict):
    """The API and dashboard server."""

    # Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies whose X-Forwarded-For
    # is believed; from anyone else the header is ignored (sign-in throttling counts the
    # address the connection comes from).
    trusted_proxies: list[str] = Field(default_factory=list)


class Settings(_Strict):
    """baton.yaml: how the engine behaves."""

    name: str
    seed: int = 0
    objectives: Objectives = Objectives()
    autonomy: Autonomy = Autonomy()
    escalation: Escalation = Escalation()
    coordination: Coordination = Coordination()
    detectors: list[Detector] = Field(default_factory=list)
    connectors: Connectors = Connectors()
    audit: Audit = Audit()
    web: Web = Web()
    event_types: dict[str, list[str]] = Field(default_factory=dict)  # extra types -> attrs


class Candidate(_Strict):
    """One candidate action of a playbook; strings may use {entity}, {kind}, {facts[name]}."""

    action: str
    resource: str = "{entity}"
    resource_type: str = "Service"
    params: dict[str, Any] = Field(default_factory=dict)
    amount: int = Field(default=0, ge=0)
    cost: float = Field(default=0.0, ge=0)
    risk: int = Field(default=0, ge=0, le=100)
    minutes: float = Field(default=5.0, ge=0)
    customer_impact: int = Field(default=0, ge=0, le=100)
    confidence: float = Field(default=1.0, ge=0, le=1)
    effect: str
    rationale: str
    requires: list[str] = Field(default_factory=list)  # facts that must be present and truthy
    compensation: str | None = None
    # In a joint plan: action kinds of other steps that must succeed first ("root" is the
    # root-cause action). Dependents wait for them, and are cancelled or compensated when
    # one fails.
    after: list[str] = Field(default_factory=list)


class AgentSpec(_Strict):
    """A playbook agent: the situations it owns and what it proposes for each."""

    id: str
    domain: str
    playbooks: dict[str, list[Candidate]]


class Playbooks(_Strict):
    """playbooks.yaml."""

    agents: list[AgentSpec]


class Config(BaseModel):
    """A whole configuration directory, loaded and cross-checked."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    root: Path
    settings: Settings
    org: Organisation
    playbooks: Playbooks
    policies: list[tuple[str, str]]  # (file name, Cedar text)


def _check_connectors(connectors: Connectors, doc: Located) -> None:
    """Every routed connector is configured, and its templates are valid."""
    from baton.execution.command import CommandConnector
    from baton.execution.http import HttpConnector

    configured = {"sim", "queue"}
    if connectors.http is not None:
        configured.add("http")
        try:
            HttpConnector(url=connectors.http.url, timeout_s=connectors.http.timeout_s,
                          retries=connectors.http.retries, backoff_s=connectors.http.backoff_s)
        except ValueError as exc:
            raise doc.error(("connectors", "http", "url"), str(exc)) from exc
    if connectors.command:
        configured.add("command")
        try:
            CommandConnector(argv=connectors.command)
        except ValueError as exc:
            raise doc.error(("connectors", "command"), str(exc)) from exc
    routes: list[tuple[tuple[str, ...], str]] = [(("connectors", "default"), connectors.default)]
    routes += [(("connectors", "routes", kind), name) for kind, name in connectors.routes.items()]
    for path, name in routes:
        if name not in configured:
            raise doc.error(path, f"routes to the {name!r} connector, which is not configured "
                                  f"(add connectors.{name})")


def _check_templates(agent: AgentSpec, at: tuple[str | int, ...], doc: Located) -> None:
    from baton.engine.decide import Template

    for kind, candidates in agent.playbooks.items():
        for j, cand in enumerate(candidates):
            fields: list[tuple[tuple[str | int, ...], Any]] = [
                ((name,), getattr(cand, name)) for name in ("resource", "effect", "rationale")]
            fields += [(("params", k), v) for k, v in cand.params.items()]
            for path, text in fields:
                if not isinstance(text, str):
                    continue
                try:
                    Template(text)
                except ValueError as exc:
                    raise doc.error((*at, "playbooks", kind, j, *path), str(exc)) from exc


def load_config(root: Path) -> Config:
    """Load baton.yaml, org.yaml, playbooks.yaml and policies/*.cedar from `root`."""
    if not root.is_dir():
        raise ConfigError("not a configuration directory", file=str(root))
    for name in ("baton.yaml", "org.yaml", "playbooks.yaml"):
        if not (root / name).is_file():
            raise ConfigError(f"missing {name} (run `baton init {root}` for a scaffold)",
                              file=str(root / name))
    settings_doc = load_yaml(root / "baton.yaml")
    settings = settings_doc.validate(Settings)
    org = load_organisation(root / "org.yaml")
    playbook_doc = load_yaml(root / "playbooks.yaml")
    playbooks = playbook_doc.validate(Playbooks)
    seen: set[str] = set()
    for i, d in enumerate(settings.detectors):
        if d.domain not in org.domain:
            raise settings_doc.error(("detectors", i, "domain"), f"unknown domain {d.domain!r}")
        if d.id in seen:
            raise settings_doc.error(("detectors", i, "id"), f"duplicate detector id {d.id!r}")
        seen.add(d.id)
    _check_connectors(settings.connectors, settings_doc)
    raised = {d.situation for d in settings.detectors}
    if settings.coordination.fanout:
        raised.add(settings.coordination.impact_situation)  # raised by the coordinator
    agent_ids: set[str] = set()
    for i, a in enumerate(playbooks.agents):
        if a.domain not in org.domain:
            raise playbook_doc.error(("agents", i, "domain"), f"unknown domain {a.domain!r}")
        if a.id in agent_ids:
            raise playbook_doc.error(("agents", i, "id"), f"duplicate agent id {a.id!r}")
        agent_ids.add(a.id)
        for kind in a.playbooks:
            if kind not in raised:
                raise playbook_doc.error(
                    ("agents", i, "playbooks", kind),
                    f"no detector in baton.yaml raises situation {kind!r} (raised: "
                    f"{', '.join(sorted(raised)) or 'none'})")
        _check_templates(a, ("agents", i), playbook_doc)
        for kind, candidates in a.playbooks.items():
            known = {"root", *(c.action for c in candidates)}
            for j, cand in enumerate(candidates):
                for k, dep in enumerate(cand.after):
                    if dep not in known:
                        raise playbook_doc.error(
                            ("agents", i, "playbooks", kind, j, "after", k),
                            f"unknown step {dep!r}: 'after' names 'root' or another "
                            f"action of this playbook ({', '.join(sorted(known))})")
    policy_dir = root / "policies"
    files = sorted(policy_dir.glob("*.cedar")) if policy_dir.is_dir() else []
    if not files:
        raise ConfigError("no Cedar policies: add policies/*.cedar", file=str(policy_dir))
    policies = [(str(f), f.read_text(encoding="utf-8")) for f in files]
    return Config(root=root, settings=settings, org=org, playbooks=playbooks, policies=policies)
