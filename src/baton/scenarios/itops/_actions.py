"""What each action kind does to the simulated world."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from baton.execution.port import ActionRequest, ExecResult
from baton.model import Action
from baton.org.model import Organisation
from baton.scenarios.itops._core import WorldCore, stamp

FAILURE_SHARE = 0.08  # actions the target refuses, whatever the key: exercises compensation
FAILURES = ("simulated failure: orchestrator timed out after 30 s",
            "simulated failure: API rate limited (HTTP 429)",
            "simulated failure: another change holds the deployment lock")
Handler = Callable[[Action, datetime, random.Random], ExecResult]


def _ok(detail: str, **response: object) -> ExecResult:
    return ExecResult(ok=True, detail=detail, response=dict(response))


def _refuse(detail: str) -> ExecResult:
    return ExecResult(ok=False, detail=detail)


class Actions(WorldCore):
    """Carries out actions; each takes effect a few simulated minutes after it is sent."""

    def __init__(self, org: Organisation, *, seed: int, start: datetime) -> None:
        super().__init__(org, seed=seed, start=start)
        self._handlers.update({"rolled_back": self._on_rolled_back, "renewed": self._on_renewed})
        self._actions: dict[str, Handler] = {
            "restart": self._restart, "rollback": self._rollback, "deploy": self._deploy,
            "scale_out": self._scale_out, "scale_in": self._scale_in,
            "revoke_access": self._revoke, "rotate_credential": self._rotate,
            "renew_cert": self._renew, "assign_ticket": self._assign,
            "escalate_ticket": self._escalate, "archive_data": self._archive,
            "delete_data": self._delete, "open_ticket": self._note, "notify_team": self._note,
            "verify_dependents": self._note, "brief_support": self._note,
            "post_status": self._note, "notify_person": self._note,
        }

    def act(self, request: ActionRequest) -> ExecResult:
        """Carry out one action at request.at; a seeded few fail and change nothing."""
        if request.at > self.processed:
            self.advance(request.at)  # events up to then wait in the buffer
        handler = self._actions.get(request.action.kind)
        if handler is None:
            return _refuse(f"the simulated world has no action {request.action.kind!r} "
                           f"(known: {', '.join(sorted(self._actions))})")
        rng = random.Random(f"{self.seed}:apply:{request.idempotency_key}")
        if rng.random() < FAILURE_SHARE:
            return _refuse(rng.choice(FAILURES))
        return handler(request.action, max(request.at, self.processed), rng)

    def _service(self, action: Action) -> str | None:
        return action.resource if action.resource in self.svc else None

    # --- services ---------------------------------------------------------------------

    def _restart(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None:
            return _refuse(f"no service {action.resource!r}")
        svc = self.svc[sid]
        if svc.down and svc.restarting:
            return _ok(f"a restart of {sid} is already under way")
        if svc.down:
            svc.restarting = True
            minutes = rng.uniform(2, 6)
            self.at(now + timedelta(minutes=minutes), "recover", f"{sid}|{svc.crashes}")
            return _ok(f"restarting {sid}: healthy in about {minutes:.0f} min",
                       eta_minutes=round(minutes, 1))
        if svc.impaired:
            return _ok(f"{sid} restarted; still failing: upstream "
                       f"{', '.join(sorted(svc.impaired))} is down")
        if svc.bad_error:
            return _ok(f"{sid} restarted; errors persist: {svc.version_text} is faulty")
        return _ok(f"{sid} was healthy: the restart changed nothing")

    def _rollback(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None:
            return _refuse(f"no service {action.resource!r}")
        svc = self.svc[sid]
        if not svc.bad_error or svc.previous is None:
            return _ok(f"{sid} {svc.version_text} is healthy: nothing to roll back")
        minutes = rng.uniform(3, 8)
        self.at(now + timedelta(minutes=minutes), "rolled_back", f"{sid}|{svc.version_text}")
        return _ok(f"rolling {sid} back from {svc.version_text} to {svc.previous}",
                   eta_minutes=round(minutes, 1), to_version=svc.previous)

    def _on_rolled_back(self, when: datetime, arg: str) -> None:
        sid, bad = arg.split("|")
        svc = self.svc[sid]
        if svc.version_text != bad or svc.previous is None:
            return  # a newer deploy replaced the faulty version meanwhile
        good = svc.previous
        major, minor, patch = (int(n) for n in good.removeprefix("v").split("."))
        svc.version = (major, minor, patch)
        svc.previous, svc.bad_error, svc.bad_latency = bad, 0.0, 1.0
        self.emit("deploy", sid, when, f"deploy:{sid}:{good}:rollback:{stamp(when)}",
                  version=good, previous=bad, author="baton", rollback=True)

    def _deploy(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None:
            return _refuse(f"no service {action.resource!r}")
        return _ok(f"{sid} stays on {self.svc[sid].version_text}: redeploy changed nothing")

    def _scale_out(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None:
            return _refuse(f"no service {action.resource!r}")
        svc = self.svc[sid]
        svc.replicas += max(1, int(action.params.get("replicas", 2)))
        return _ok(f"{sid} scaled out to {svc.replicas} replicas", replicas=svc.replicas,
                   hourly_cost=round(svc.cost(), 2))

    def _scale_in(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None:
            return _refuse(f"no service {action.resource!r}")
        svc = self.svc[sid]
        if svc.runaway > 1.0:
            svc.runaway = 1.0
            return _ok(f"stopped the runaway workload on {sid}", hourly_cost=round(svc.cost(), 2))
        if svc.replicas <= svc.base_replicas:  # the autoscaler's minimum: never below it
            return _ok(f"{sid} already runs its minimum of {svc.replicas} replicas")
        step = max(1, int(action.params.get("replicas", 1)))
        svc.replicas = max(svc.base_replicas, svc.replicas - step)
        return _ok(f"{sid} scaled in to {svc.replicas} replicas", replicas=svc.replicas,
                   hourly_cost=round(svc.cost(), 2))

    def _archive(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        return self._free(action, 20.0, "archived")

    def _delete(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        return self._free(action, 30.0, "deleted")

    def _free(self, action: Action, points: float, verb: str) -> ExecResult:
        sid = self._service(action)
        if sid is None or self.svc[sid].storage_pct is None:
            return _refuse(f"{action.resource!r} holds no data")
        svc = self.svc[sid]
        svc.storage_pct = max(20.0, (svc.storage_pct or 0.0) - points)
        return _ok(f"{verb} old data on {sid}: {svc.storage_pct:.1f}% used",
                   storage_used_pct=round(svc.storage_pct, 1))

    # --- security ---------------------------------------------------------------------

    def _revoke(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        grant = self.grants.get(action.resource)
        if grant is None:
            return _refuse(f"no grant {action.resource!r}")
        grant.revoked = True
        return _ok(f"revoked {grant.level} access of {grant.grantee} ({grant.id})")

    def _rotate(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        gid = action.resource.removeprefix("token-")
        grant = self.grants.get(gid)
        if grant is None:
            return _refuse(f"no credential {action.resource!r}")
        grant.rotated = True
        return _ok(f"rotated {action.resource}; the old secret no longer works")

    def _renew(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        sid = self._service(action)
        if sid is None or self.svc[sid].cert_expires is None:
            return _refuse(f"{action.resource!r} has no certificate")
        minutes = rng.uniform(5, 15)
        self.at(now + timedelta(minutes=minutes), "renewed", sid)
        return _ok(f"renewing the certificate of {self.svc[sid].hostname}",
                   eta_minutes=round(minutes, 1))

    def _on_renewed(self, when: datetime, sid: str) -> None:
        svc = self.svc[sid]
        svc.cert_expires = when + timedelta(days=90)
        self.emit("cert.expiry", sid, when, f"cert.expiry:{sid}:{stamp(when)}", days_left=90,
                  hostname=svc.hostname, issuer="acme-internal-ca", renewed=True)

    # --- tickets ----------------------------------------------------------------------

    def _assign(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        return self._speed_up(action, now, rng, escalate=False)

    def _escalate(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        return self._speed_up(action, now, rng, escalate=True)

    def _speed_up(self, action: Action, now: datetime, rng: random.Random, *,
                  escalate: bool) -> ExecResult:
        ticket = self.tickets.get(action.resource)
        if ticket is None:
            return _refuse(f"no ticket {action.resource!r}")
        if ticket.resolved:
            return _ok(f"{ticket.id} is already resolved")
        left = max(ticket.due - now, timedelta(minutes=1))
        if escalate:
            ticket.escalated = True
            left = min(left, timedelta(minutes=rng.uniform(10, 30)))
        else:
            ticket.assigned = True
            left = left * rng.uniform(0.5, 0.7)
        ticket.due = (now + left).replace(microsecond=0)
        self.at(ticket.due, "resolve", ticket.id)
        verb = "escalated" if escalate else f"assigned to {ticket.team}"
        return _ok(f"{ticket.id} {verb}", due=ticket.due.isoformat())

    def _note(self, action: Action, now: datetime, rng: random.Random) -> ExecResult:
        return _ok(f"{action.kind} about {action.resource} recorded")
