"""The `baton` command: parses arguments and calls one function each."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from baton import cli_agents
from baton.cli_audit import audit_app
from baton.cli_autonomy import autonomy_app
from baton.cli_cluster import register as register_cluster
from baton.cli_policy import policy_app
from baton.errors import BatonError, InputError

if TYPE_CHECKING:
    from baton.store.port import Store

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Baton: governed autonomous agents for operations coordination.")
app.add_typer(audit_app, name="audit")
register_cluster(app)
app.add_typer(autonomy_app, name="autonomy")
app.add_typer(policy_app, name="policy")
app.add_typer(cli_agents.agents_app, name="agents")
app.command("mcp")(cli_agents.mcp_command)
# Piped output is not wrapped at 80 columns: tables stay readable in files and pagers.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

Db = Annotated[str, typer.Option("--db", help="SQLite path or postgresql:// URL",
                                 envvar="BATON_DB")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="configuration directory "
                                                "(default: the one the database remembers)")]


def _fail(exc: BatonError) -> NoReturn:
    err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


VERDICTS = ("autonomous", "approval", "denied")
ESCALATION_STATES = ("open", "approved", "rejected", "expired", "superseded", "all")


def _choice(option: str, value: str | None, choices: tuple[str, ...]) -> None:
    """Exit naming the choices when `value` is not one of them."""
    if value is not None and value not in choices:
        _fail(InputError(f"{option} {value!r} is not one of: {', '.join(choices)}"))


def _existing_store(db: str) -> Store:
    """The store of a database that must already exist; exits naming it otherwise."""
    from baton.store import open_store

    try:
        return open_store(db, create=False)
    except BatonError as exc:
        _fail(exc)


@app.command()
def demo(
    headless: Annotated[bool, typer.Option(help="run as fast as possible, no dashboard")]
    = False,
    hours: Annotated[float, typer.Option(min=0.1, help="virtual hours to run")] = 24.0,
    seed: Annotated[int, typer.Option(help="seed of the simulated world")] = 7,
    db: Annotated[Path, typer.Option(help="demo database (replaced if it is a demo's)")]
    = Path("baton-demo.db"),
    json_out: Annotated[Path | None, typer.Option("--json", help="write the summary here")]
    = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="dashboard port")] = 8000,
    speed: Annotated[float, typer.Option(min=1.0, help="virtual seconds per real second")]
    = 240.0,
    terminal: Annotated[bool, typer.Option(help="a live terminal view instead of the "
                                                "dashboard")] = False,
    reports: Annotated[Path, typer.Option(help="folder of value reports the dashboard "
                                               "shows")] = Path("reports"),
    loop: Annotated[bool, typer.Option(help="after --hours, carry on for another run of "
                                            "as many hours (else stop the world)")] = True,
) -> None:
    """Run the bundled itops scenario in accelerated virtual time, with the dashboard."""
    from baton.cli_views import run_demo_view

    try:
        if not headless and not terminal:
            from baton.web.server import serve_demo

            serve_demo(db=db, hours=hours, seed=seed, port=port, speed=speed, console=out,
                       reports=reports, loop=loop)
            return
        summary = run_demo_view(db=db, hours=hours, seed=seed, headless=headless,
                                speed=speed * 6, console=out)
    except BatonError as exc:
        _fail(exc)
        return
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        out.print(f"summary written to {json_out}")


@app.command()
def serve(directory: Path, db: Db = "baton.db",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
          tick: Annotated[float, typer.Option(help="seconds between clock ticks")] = 5.0,
          reports: Annotated[Path, typer.Option(help="folder of value reports the "
                                                     "dashboard shows")] = Path("reports"),
          bus: Annotated[str | None, typer.Option(
              help="nats://HOST:PORT[?ns=NAME]: serve as a stateless replica of a cluster "
                   "(events go to the bus; `baton sequencer` decides them)")] = None,
          cell: Annotated[str, typer.Option(help="with --bus: the cell whose decisions this "
                                                 "replica shows (events go to their own)")]
          = "main",
          bind: Annotated[str, typer.Option(help="with --bus: the address to listen on "
                                                 "(0.0.0.0 behind a load balancer)")]
          = "127.0.0.1"
          ) -> None:
    """Serve the API and dashboard for `db`, processing events as they arrive.

    A second `serve` on the same database stands by and takes over when the first ends.
    With --bus, any number serve side by side and `baton sequencer` decides.
    """
    from baton.web.server import serve_database, serve_replica

    try:
        if bus is not None:
            serve_replica(directory=directory, db=db, bus_url=bus, port=port, console=out,
                          reports=reports, cell=cell, bind=bind)
            return
        serve_database(directory=directory, db=db, port=port, tick=tick, console=out,
                       reports=reports)
    except BatonError as exc:
        _fail(exc)


@app.command()
def replay(log: Annotated[Path, typer.Argument(help="CSV or JSON-lines log, plain or gzip")],
           mapping: Annotated[str, typer.Option(help="mapping YAML, or a bundled name")]
           = "servicenow",
           report: Annotated[Path, typer.Option(help="folder for report.json/.html")]
           = Path("replay-report"),
           db: Annotated[Path | None, typer.Option(help="database (default: in the report "
                                                        "folder)")] = None,
           test_share: Annotated[float | None, typer.Option(
               min=0.01, max=0.99, help="later share of cases measured")] = None,
           holdout_share: Annotated[float | None, typer.Option(
               min=0.01, max=0.99, help="share of known outcomes that calibrates a fit")]
           = None,
           min_train: Annotated[int | None, typer.Option(
               min=1, help="closed cases a fit needs (default: scaled to the log)")] = None,
           min_holdout: Annotated[int | None, typer.Option(
               min=1, help="holdout cases a fit needs (default: scaled to the log)")] = None,
           refit_every_hours: Annotated[float | None, typer.Option(
               min=0.01, help="refit cadence in log time (default: scaled to the log)")]
           = None) -> None:
    """Replay a recorded log through the engine in shadow mode and report the value.

    Exits 3 when the log has a handling group but routing could not be measured.
    """
    from rich.progress import Progress

    from baton.replay.report import consistency_text, write_replay_report
    from baton.replay.run import replay as run_replay
    from baton.replay.summary import summarise

    settings = {"test_share": test_share, "holdout_share": holdout_share,
                "min_train": min_train, "min_holdout": min_holdout,
                "refit_every_hours": refit_every_hours}
    report.mkdir(parents=True, exist_ok=True)
    try:
        with Progress(console=out, transient=True) as bar:
            task = bar.add_task("replaying", total=None)
            done = run_replay(log, mapping, db=db or report / "replay.db", settings=settings,
                              progress=lambda n, total: bar.update(task, completed=n,
                                                                   total=total))
        result = summarise(done)
        result["seconds"] = {k: round(v, 2) for k, v in done.seconds.items()}
        json_path, html_path = write_replay_report(report, result)
    except BatonError as exc:
        _fail(exc)
        return
    for warning in result["warnings"]:
        out.print(f"[bold yellow]WARNING[/]: {warning}", markup=True, highlight=False)
    gaps = result["not_measured"]
    r = result["routing"]
    share = result["plan"]["test_share"]
    if "routing" not in gaps:
        out.print(f"replayed {result['cases']} cases in {result['seconds']['total']} s; on "
                  f"the later {share:.0%} ({result['test_cases']} cases): engine "
                  f"{r['engine_accuracy']:.1%}, people's first assignment "
                  f"{r['human_first_accuracy']:.1%}, autonomous coverage "
                  f"{r['autonomous_coverage']:.1%} at {r['autonomous_accuracy']:.1%} "
                  f"(people on the same cases {r['human_accuracy_same_cases']:.1%})")
    if "consistency" not in gaps:
        out.print(consistency_text(result["consistency"], r["engine_accuracy"]))
    for key, why in gaps.items():
        out.print(f"[bold red]NOT MEASURED[/] {key}: {why}", markup=True, highlight=False)
    flow = result["flow"]
    moved = flow["reassignments"].get("share_reassigned")
    out.print(f"{flow['cases']} cases over: time to resolve mean "
              f"{flow['time_to_resolve_hours']['mean']} h"
              + ("" if moved is None else f", {moved:.1%} reassigned at least once"))
    out.print(f"report: {html_path} and {json_path}")
    if "routing" in gaps and done.loaded is not None and done.loaded.mapping.group:
        raise typer.Exit(3)


@app.command()
def init(directory: Path) -> None:
    """Write a small working configuration to start from."""
    from baton.scaffold import scaffold

    try:
        written = scaffold(directory)
    except BatonError as exc:
        _fail(exc)
        return
    for path in written:
        out.print(f"wrote {path}")
    out.print(f"next: baton check {directory}")


@app.command()
def check(directory: Path) -> None:
    """Validate a configuration directory: YAML, references and Cedar policies."""
    from baton.config import load_config
    from baton.governance.policies import PolicyBook

    try:
        config = load_config(directory)
        book = PolicyBook(config.policies)
    except BatonError as exc:
        _fail(exc)
        return
    org = config.org
    out.print(f"[green]ok[/green] {directory}: {len(org.teams)} teams, {len(org.people)} "
              f"people, {len(org.services)} services, {len(config.settings.detectors)} "
              f"detectors, {len(config.playbooks.agents)} agents, {len(book)} policies")


@app.command()
def run(directory: Path, db: Db = "baton.db",
        follow: Annotated[bool, typer.Option(help="keep processing new events")] = False,
        tick: Annotated[float, typer.Option(help="seconds between clock ticks")] = 5.0) -> None:
    """Process every accepted event of `db` with the configuration in DIRECTORY."""
    from baton.cli_views import run_live

    try:
        run_live(directory, db, follow=follow, tick=tick, console=out)
    except BatonError as exc:
        _fail(exc)


@app.command()
def ingest(source: Annotated[str, typer.Argument(help="JSON-lines file, or - for stdin")],
           db: Db = "baton.db", config: ConfigOpt = None,
           process: Annotated[bool, typer.Option(help="process after accepting")] = True,
           wait: Annotated[bool, typer.Option(
               help="wait until every event is processed and every action it started has "
                    "ended; --no-wait returns once the events are durable")] = True) -> None:
    """Accept events (JSON lines); all are checked first, and a bad one writes nothing."""
    from baton.app import event_types_for, open_engine, submit
    from baton.model.events import parse_event

    try:
        types = event_types_for(db, config)
        name = "<stdin>" if source == "-" else source
        try:
            if source == "-":
                lines = sys.stdin.buffer.read().decode("utf-8").splitlines()
            else:
                lines = Path(source).read_bytes().decode("utf-8").splitlines()
        except OSError as exc:
            raise BatonError(f"{source}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                             "save the file as UTF-8 and try again; nothing was accepted"
                             ) from None
        events = [parse_event(line, f"{name}:{n}", types)
                  for n, line in enumerate(lines, 1) if line.strip()]
        from baton.execution.effects import WORKER_SOURCE

        for n, e in enumerate(events, 1):
            if e.source == WORKER_SOURCE:
                raise InputError(f"{name}: event {n}: source {WORKER_SOURCE!r} is Baton's own "
                                 "execution workers'; a target reports a result with its own")
        engine = open_engine(db, config)
        before = engine.store.counts()["events"]
        process = process and wait
        try:
            done = submit(engine, events) if process else 0
            if not process:
                engine.ingest(events)
            accepted = engine.store.counts()["events"] - before
        finally:
            engine.store.close()  # stops the workers first
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"accepted {accepted} events ({len(events) - accepted} duplicates ignored); "
              f"processed {done}")


@app.command()
def decisions(db: Db = "baton.db", limit: int = 20,
              domain: Annotated[str | None, typer.Option()] = None,
              outcome: Annotated[str | None, typer.Option()] = None,
              verdict: Annotated[str | None, typer.Option(
                  help="autonomous, approval or denied")] = None) -> None:
    """List recent decisions, newest first."""
    _choice("--verdict", verdict, VERDICTS)
    filters = {k: v for k, v in {"domain": domain, "outcome": outcome,
                                 "verdict": verdict}.items() if v}
    rows = _existing_store(db).decisions(limit=limit, filters=filters)
    table = Table(box=None, header_style="bold")
    for name in ("id", "time", "domain", "situation", "entity", "verdict"):
        table.add_column(name, no_wrap=True)
    table.add_column("outcome", overflow="fold")
    for d in rows:
        v = d.get("verdict") or {}
        table.add_row(d["id"], d["time"][5:16].replace("T", " "), d["domain"],
                      d["situation_kind"], d["entity"], v.get("kind", "-"), d["outcome"])
    out.print(table)


@app.command()
def explain(decision_id: str, db: Db = "baton.db") -> None:
    """Why a decision came out as it did: situation, proposals, policies, context."""
    from baton.cli_views import print_explanation

    record = _existing_store(db).decision(decision_id)
    if record is None:
        err.print(f"[red]error:[/red] no decision {decision_id!r} in {db}; "
                  "`baton decisions` lists them")
        raise typer.Exit(2)
    print_explanation(record, out)


@app.command()
def escalations(db: Db = "baton.db",
                status: Annotated[str | None, typer.Option(
                    help="open, approved, rejected, expired, superseded or all")] = "open"
                ) -> None:
    """List escalations (open by default; --status all lists every one)."""
    _choice("--status", status, ESCALATION_STATES)
    status = None if status == "all" else status
    table = Table("id", "created", "deadline", "approver", "candidates", "action", "status")
    found = _existing_store(db).escalations(status=status)
    for e in found:
        table.add_row(e.id, e.created.isoformat()[:16], e.deadline.isoformat()[:16],
                      e.approver, ", ".join(e.candidates),
                      f"{e.action.get('kind')} {e.action.get('resource')}", e.status)
    out.print(table)


@app.command()
def work(db: Db = "baton.db", status: Annotated[str | None, typer.Option()] = "open",
         limit: int = 50) -> None:
    """List work items the queue connector created for people."""

    items = _existing_store(db).work_items(status=status, limit=limit)
    table = Table(box=None, header_style="bold")
    for name in ("created", "domain", "title", "decision", "status"):
        table.add_column(name, no_wrap=True)
    for item in items:
        table.add_row(item["created"][5:16].replace("T", " "), item["domain"], item["title"],
                      item["decision"], item["status"])
    out.print(table)


def _resolve(escalation_id: str, db: str, by: str, comment: str,
             approve: bool, params: str | None = None, amount: int | None = None) -> None:
    from baton.app import open_engine, resolve
    from baton.errors import InputError

    try:
        changed = None
        if params is not None:
            from baton.model import limits

            changed = limits.loads(params, "--params")
            limits.check_data(changed, "", "--params", depth=limits.MAX_DEPTH - 1)
            if not isinstance(changed, dict):
                raise InputError("--params must be a JSON object, e.g. '{\"replicas\": 2}'")
        record = resolve(open_engine(db), escalation_id, approve=approve, by=by,
                         comment=comment, params=changed, amount=amount)
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"{record.get('id')}: {record.get('outcome')}")


@app.command()
def approve(escalation_id: str,
            by: Annotated[str, typer.Option(help="the person answering (checked: they must be "
                                                 "eligible)")],
            db: Db = "baton.db",
            comment: str = "",
            params: Annotated[str | None, typer.Option(
                help="changed parameters as a JSON object (checked by the policies again)")]
            = None,
            amount: Annotated[int | None, typer.Option(min=0, help="changed amount")] = None
            ) -> None:
    """Approve an open escalation, optionally with changes: its action runs now."""
    _resolve(escalation_id, db, by, comment, True, params, amount)


@app.command()
def reject(escalation_id: str,
           by: Annotated[str, typer.Option(help="the person answering (checked: they must be "
                                                "eligible)")],
           db: Db = "baton.db",
           comment: str = "") -> None:
    """Reject an open escalation: its action never runs."""
    _resolve(escalation_id, db, by, comment, False)


@app.command("kill-switch")
def kill_switch(state: Annotated[str, typer.Argument(help="on or off")], db: Db = "baton.db",
                domain: Annotated[str | None, typer.Option()] = None,
                by: str = "operator") -> None:
    """Stop (on) or resume (off) autonomous actions, globally or for one domain."""
    from baton.app import kill_switch as switch
    from baton.app import open_engine

    if state not in ("on", "off"):
        err.print(f"[red]error:[/red] state must be 'on' or 'off', got {state!r}")
        raise typer.Exit(2)
    try:
        switch(open_engine(db), enabled=state == "on", domain=domain, by=by)
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"kill switch {state} ({domain or 'global'}): every autonomous verdict becomes "
              "an escalation from the next event on" if state == "on" else
              f"kill switch off ({domain or 'global'})")


@app.command()
def objectives(db: Db = "baton.db",
               speed: Annotated[float | None, typer.Option(help="weight of time to effect")] = None,
               cost: Annotated[float | None, typer.Option(help="weight of cost")] = None,
               risk: Annotated[float | None, typer.Option(help="weight of risk")] = None,
               customer_impact: Annotated[float | None, typer.Option(
                   help="weight of benefit to customers")] = None,
               by: Annotated[str | None, typer.Option(help="person id making the change")] = None,
               comment: str = "") -> None:
    """Show the objectives coordination optimises, or change them (recorded in the ledger)."""
    from baton.app import current_objectives, open_engine, set_objectives

    weights = {k: v for k, v in (("speed", speed), ("cost", cost), ("risk", risk),
                                 ("customer_impact", customer_impact)) if v is not None}
    try:
        engine = open_engine(db)
        if weights and by is None:
            raise InputError("--by is required to change the objectives (a person id)")
        now = set_objectives(engine, weights, by=str(by), comment=comment) if weights \
            else current_objectives(engine)
    except BatonError as exc:
        _fail(exc)
        return
    table = Table("objective", "weight", title="objectives" + (" (changed)" if weights else ""))
    for key, value in now.model_dump().items():
        table.add_row(key, f"{value:g}")
    out.print(table)


dead_app = typer.Typer(no_args_is_help=True,
                       help="Events set aside because processing them failed.")
app.add_typer(dead_app, name="dead-letters")


@dead_app.command("list")
def dead_list(db: Db = "baton.db",
              every: Annotated[bool, typer.Option("--all", help="retried and discarded too")]
              = False,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Quarantined events: log position, key, type, when, and the error."""
    store = _existing_store(db)
    letters = store.dead_letters(status=None if every else "held")
    if as_json:
        out.print_json(json.dumps([vars(d) for d in letters]))
        return
    table = Table("seq", "key", "type", "at", "status", "error",
                  title=f"dead letters ({len(letters)})")
    for d in letters:
        table.add_row(str(d.seq), d.key, d.type, d.at, d.status, d.error[:200])
    out.print(table)


@dead_app.command("retry")
def dead_retry(seq: int, db: Db = "baton.db") -> None:
    """Process a quarantined event again (as a copy at the end of the log)."""
    _dead_letter(db, seq, retry=True)


@dead_app.command("discard")
def dead_discard(seq: int, db: Db = "baton.db") -> None:
    """Give up on a quarantined event; it stays in the log and the ledger."""
    _dead_letter(db, seq, retry=False)


def _dead_letter(db: str, seq: int, *, retry: bool) -> None:
    from baton import deadletters

    store = _existing_store(db)
    try:
        if retry:
            copy = deadletters.retry(store, seq)
            said = (f"dead letter {seq} queued again as {copy.key}; `baton run` (or the "
                    "server) processes it next")
        else:
            said = f"dead letter {seq} ({deadletters.discard(store, seq).key}) discarded"
    except BatonError as exc:
        _fail(exc)
    finally:
        store.close()
    out.print(said)


@app.command()
def bench(which: Annotated[str, typer.Argument(
              help="decisions (throughput), coordination (cost against size), audit "
                   "(checkpoints and proofs) or cluster (PostgreSQL + NATS: replicas, "
                   "workers, failover)")] = "decisions",
          json_out: Annotated[Path | None, typer.Option("--json")] = None,
          events: Annotated[int, typer.Option(help="decisions: events to process")] = 20000,
          storm_alerts: Annotated[int, typer.Option(
              help="decisions: alerts in the storm (0 skips it)")] = 100_000,
          recovery_events: Annotated[int, typer.Option(
              help="decisions: events processed before the restart is timed (0 skips)")]
          = 1_000_000,
          teams: Annotated[str, typer.Option(
              help="coordination: organisation sizes in teams, comma-separated")] = "10,100,1000",
          hours: Annotated[float, typer.Option(help="coordination: virtual hours per size")]
          = 12.0,
          audit_records: Annotated[int, typer.Option(
              help="audit: ledger records for the checkpoint and proof figures (0 skips)")]
          = 1_000_000,
          seed: int = 1) -> None:
    """Benchmarks: governed decisions per second (and the floor), coordination cost per
    event as the organisation grows (CPU, messages, peak memory, log-log slope), or what
    the Merkle tree and signed checkpoints cost (audit)."""
    result: dict[str, Any]
    if which == "decisions":
        from baton.bench import print_bench, run_bench
        from baton.bench_storm import run_recovery, run_storm

        result = run_bench(events=events, seed=seed)
        if storm_alerts:
            result["storm"] = run_storm(alerts=storm_alerts)
        if recovery_events:
            recovery = run_recovery(events=recovery_events)
            result["recovery_s"] = recovery["recovery_s"]
            result["recovery"] = recovery
        print_bench(result, out)
    elif which == "audit":
        from baton.bench_audit import print_audit_bench, run_audit_bench

        result = run_audit_bench(events=events, seed=seed, records=audit_records)
        print_audit_bench(result, out)
    elif which == "coordination":
        from baton.bench_coordination import print_coordination, run_coordination_bench

        try:
            sizes = [int(t) for t in teams.split(",") if t.strip()]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) < 1:
            err.print(f"[red]error:[/red] --teams must be positive whole numbers separated by "
                      f"commas, e.g. 10,100,1000; got {teams!r}")
            raise typer.Exit(2)
        result = run_coordination_bench(sizes, seed=seed, hours=hours)
        print_coordination(result, out)
    elif which == "cluster":
        from baton.bench_cluster import print_cluster_bench, run_cluster_bench

        try:
            result = run_cluster_bench(events=min(events, 5000))
        except BatonError as exc:
            _fail(exc)
        print_cluster_bench(result, out)
    else:
        err.print(f"[red]error:[/red] unknown benchmark {which!r} (known: decisions, "
                  "coordination, audit, cluster)")
        raise typer.Exit(2)
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2) + "\n")


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="bundled scenario to simulate")] = "itops",
    compare: Annotated[str, typer.Option(
        help="human (human-led model) or assignment (optimal vs greedy assignment)")] = "human",
    report: Annotated[Path, typer.Option(help="directory for report.json and report.html")]
    = Path("simulation"),
    seed: Annotated[int | None, typer.Option(help="seed (default: the parameter file's)")]
    = None,
    quick: Annotated[bool, typer.Option(help="a smaller run (seconds, not minutes)")] = False,
    params: Annotated[Path | None, typer.Option(help="parameter file (default: the "
                                                     "scenario's bundled one)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="processes (default: up to 2)")]
    = None,
    coordination: Annotated[Path | None, typer.Option(
        help="JSON from `baton bench coordination --json`: its curve goes into the report "
             "beside the hierarchy's")] = None,
) -> None:
    """Human-led against AI-led on the same workload: latency, capacity, consistency, cost."""
    from baton.errors import InputError
    from baton.scenarios import scenario_path
    from baton.sim.experiment import simulate as run_simulation
    from baton.sim.params import load_params
    from baton.sim.simreport import write

    try:
        if compare not in ("human", "assignment"):
            raise InputError(f"--compare must be 'human' (the human-led model) or "
                             f"'assignment' (optimal vs greedy), got {compare!r}")
        scenario_path(scenario)
        if compare == "assignment":
            _compare_assignment(report, seed, quick)
            return
        loaded = load_params(params, scenario)
        bench_result = _bench_json(coordination) if coordination is not None else None
        data = run_simulation(loaded, quick=quick, seed=seed, workers=workers,
                              progress=lambda msg: err.print(f"[dim]{msg}[/dim]"))
        if bench_result is not None:
            from baton.sim.coordination_curve import hierarchy_points

            sizes = [int(p["teams"]) for p in bench_result["points"]]
            data["coordination_bench"] = bench_result
            data["coordination_hierarchy"] = hierarchy_points(sizes, params=loaded, seed=seed,
                                                              quick=quick)
        json_path, html_path = write(report, data)
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"latency ratio {data['latency_ratio']}, capacity ratio "
              f"{data['capacity_ratio_bound'] or ''} {data['capacity_ratio']}, consistency "
              f"{data['consistency']['improvement']:.0%} better; {data['runtime_s']} s")
    out.print(f"wrote {json_path} and {html_path}")


def _bench_json(path: Path) -> dict[str, Any]:
    from baton.errors import InputError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read a bench result: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("points"), list) or not all(
            isinstance(p, dict) and "teams" in p for p in data["points"]):
        raise InputError(f"{path}: not a `baton bench coordination --json` result (it needs "
                         "'points', each with 'teams')")
    return data


def _compare_assignment(report: Path, seed: int | None, quick: bool) -> None:
    from baton.sim.assignment import compare_assignment, print_comparison

    result = compare_assignment(6 if quick else 24, 7 if seed is None else seed)
    print_comparison(result, out)
    report.mkdir(parents=True, exist_ok=True)
    (report / "assignment.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    out.print(f"wrote {report / 'assignment.json'}")


# --- dashboard logins and API tokens ---------------------------------------------------------

token_app = typer.Typer(no_args_is_help=True, help="API tokens for scripts: create, list, revoke.")
user_app = typer.Typer(no_args_is_help=True, help="People's logins to the API and dashboard.")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")


@token_app.command("create")
def token_create(user: Annotated[str | None, typer.Option("--user", help="person id")] = None,
                 agent: Annotated[str | None, typer.Option(
                     "--agent", help="outside agent id (org.yaml: agents)")] = None,
                 db: Db = "baton.db") -> None:
    """Create an API token for a person or an agent; its text is shown this once only."""
    from baton.auth import open_auth

    if (user is None) == (agent is None):
        _fail(InputError("give --user PERSON or --agent AGENT (one of them)"))
    if agent is not None:
        cli_agents.create_token(db, agent)
        return
    assert user is not None
    try:
        with open_auth(db) as auth:
            token_id, plaintext = auth.create_token(user)
            access = auth.person(user).access
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"API token {token_id} for {user} ({access} access). It is shown only now; "
              "store it somewhere safe:", highlight=False)
    out.print(plaintext, highlight=False, soft_wrap=True)
    out.print(f"send it with every request as the header:\n  Authorization: Bearer {plaintext}",
              highlight=False, soft_wrap=True)


@token_app.command("list")
def token_list(db: Db = "baton.db",
               user: Annotated[str | None, typer.Option("--user", help="person id")] = None,
               ) -> None:
    """List API tokens (never their secrets), of everyone or of one person."""
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            if user is not None:
                auth.person(user)
            tokens = auth.list_tokens(user)
    except BatonError as exc:
        _fail(exc)
        return
    if not tokens:
        out.print("no API tokens; `baton token create --user ID` makes one")
        return
    table = Table(box=None, header_style="bold")
    for name in ("id", "person", "created", "last used", "status"):
        table.add_column(name, no_wrap=True)
    for t in tokens:
        table.add_row(t.id, t.person, t.created.strftime("%Y-%m-%d %H:%M"),
                      t.last_used.strftime("%Y-%m-%d %H:%M") if t.last_used else "never",
                      "revoked" if t.revoked else "active")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="id from `baton token list`")],
                 db: Db = "baton.db") -> None:
    """Revoke an API token for good."""
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            auth.revoke_token(token_id)
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"revoked API token {token_id}; it no longer authenticates")


@user_app.command("password")
def user_password(user: Annotated[str, typer.Argument(help="person id")], db: Db = "baton.db",
                  password_stdin: Annotated[bool, typer.Option(
                      "--password-stdin", help="read the password from stdin's first line")]
                  = False) -> None:
    """Set a person's password (prompted twice, hidden); their open sessions end and their
    API tokens are revoked."""
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            auth.person(user)
            if password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = typer.prompt(f"new password for {user}", hide_input=True,
                                        confirmation_prompt=True)
            revoked = auth.set_password(user, password)
            access = auth.person(user).access
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"password set for {user} ({access} access); sessions ended"
              + (f", {revoked} API token{'s' if revoked != 1 else ''} revoked" if revoked
                 else ""), highlight=False)


@user_app.command("unlock")
def user_unlock(user: Annotated[str, typer.Argument(help="person id")],
                db: Db = "baton.db") -> None:
    """Let a person sign in again at once, from every address (forgets their failures)."""
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            auth.person(user)
            addresses = auth.unlock(user)
    except BatonError as exc:
        _fail(exc)
        return
    out.print(f"{user} may sign in again ({addresses} address"
              f"{'es' if addresses != 1 else ''} had to wait)", highlight=False)


@user_app.command("list")
def user_list(db: Db = "baton.db") -> None:
    """List the organisation's people, their access, and whether they have a password."""
    from baton.auth import open_auth

    try:
        with open_auth(db) as auth:
            people, with_password = auth.org.people, auth.password_set()
    except BatonError as exc:
        _fail(exc)
        return
    table = Table(box=None, header_style="bold")
    for name in ("id", "name", "access", "password"):
        table.add_column(name, no_wrap=True)
    for p in people:
        table.add_row(p.id, p.name or "-", p.access, "set" if p.id in with_password else "-")
    out.print(table)


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
