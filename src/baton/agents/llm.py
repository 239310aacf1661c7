"""The built-in LLM agent (`pip install baton[llm]`): a slow agent outside the decision
loop that asks an OpenAI-compatible model for one typed proposal.

It reads decisions the engine recorded (situations no playbook covers, or the kinds it is
configured for), asks the model within its deadline, and sends what it got back as an
`agent.proposal` event, so the engine governs it like any outside agent's proposal. The
event carries the model, the prompt's digest and the response: a replay reads them from
the log and never asks the model again. No answer in time, or an answer that does not fit
the schema, becomes a proposal that a person decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import httpx2
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from baton.agents.roster import HANDOFF, PROPOSAL
from baton.agents.service import ProposalBody, proposal_event
from baton.errors import BatonError, InputError
from baton.model import Event
from baton.org.agents import AgentPrincipal
from baton.org.model import Organisation
from baton.web.host import EngineHost

if TYPE_CHECKING:
    from pydantic_ai.models import Model

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "You are an operations agent governed by Baton. You get one situation of an IT "
    "organisation as JSON. Answer with exactly one proposal: the action kind (one of "
    "those allowed), the resource it acts on (a service id from the situation), your "
    "rationale in one or two sentences, and a risk from 0 to 100. Baton's policies decide "
    "whether it runs; propose what an experienced on-call engineer would do.")


class Thought(BaseModel):
    """What the LLM agent made of one situation: the proposal event, or why there is none."""

    model_config = ConfigDict(frozen=True)

    situation: str
    event: Event
    failure: str = ""


#: the most services a proposal may choose among (the situation's, then its domain's)
MAX_RESOURCES = 40


def output_type(kinds: list[str], resources: list[str] | None = None) -> type[BaseModel]:
    """The typed proposal the model must return: a kind among `kinds`, a resource (among
    `resources` when given), a rationale and a risk."""
    kind: Any = Literal.__getitem__(tuple(kinds))
    resource: Any = Literal.__getitem__(tuple(resources)) if resources else str
    model: type[BaseModel] = create_model(
        "Proposal", __config__=ConfigDict(extra="forbid"),
        kind=(kind, Field(description="the action to take")),
        # no length limits in the schema: local servers compile it to a grammar, where a
        # long maxLength explodes; lengths are checked when the proposal is made
        resource=(resource, Field(description="the service id the action acts on")),
        rationale=(str, Field(description="why, in one or two sentences")),
        risk=(int, Field(default=20, ge=0, le=100, description="0 safe .. 100 dangerous")))
    return model


def openai_model(spec: AgentPrincipal, env: Mapping[str, str] | None = None, *,
                 http_client: httpx2.AsyncClient | None = None) -> Model:
    """The pydantic-ai model for an agent's OpenAI-compatible endpoint (key from `env`)."""
    try:
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.profiles.openai import OpenAIModelProfile
        from pydantic_ai.providers.openai import OpenAIProvider
    except ImportError as exc:  # the extra is not installed
        raise InputError(f"agent {spec.id!r} is an LLM agent: install it with "
                         "`pip install baton[llm]`") from exc
    assert spec.llm is not None
    key = (env if env is not None else os.environ).get(spec.llm.api_key_env, "")
    provider = OpenAIProvider(base_url=spec.llm.base_url, api_key=key or "not-needed",
                              http_client=http_client)
    profile = OpenAIModelProfile(supports_forced_tool_choice=spec.llm.forced_tool_choice)
    return OpenAIChatModel(spec.llm.model, provider=provider, profile=profile)


def digest(text: str) -> str:
    """The sha256 of a text, hex."""
    return hashlib.sha256(text.encode()).hexdigest()


class LlmAgent:
    """One LLM agent of the organisation, asking its model about one situation at a time."""

    def __init__(self, spec: AgentPrincipal, org: Organisation, *, model: Model | None = None,
                 model_name: str | None = None) -> None:
        from pydantic_ai import Agent

        if spec.llm is None:
            raise InputError(f"agent {spec.id!r} has no llm endpoint")
        self.spec, self.org = spec, org
        if model is None:
            openai_model(spec)  # fails now, naming the extra, when it is not installed
        self.model = model  # None: the agent's endpoint, with a client per question
        self.model_name = model_name or spec.llm.model
        self.deadline_s = spec.llm.deadline_s
        self.agent: Agent[None, BaseModel] = Agent(
            model, output_type=output_type(list(spec.actions)), instructions=INSTRUCTIONS,
            retries=1, defer_model_check=True)

    def ask(self, prompt: str, output: type[BaseModel]) -> BaseModel:
        """The model's typed answer within the deadline (raises what pydantic-ai raises)."""
        async def question() -> BaseModel:
            if self.model is not None:
                result = await self.agent.run(prompt, timeout=self.deadline_s,
                                              output_type=output)
                return result.output
            # a client per question, closed with it: the worker thread has no loop of its own
            async with httpx2.AsyncClient(timeout=self.deadline_s + 5) as http:
                model = openai_model(self.spec, http_client=http)
                result = await self.agent.run(prompt, model=model, timeout=self.deadline_s,
                                              output_type=output)
                return result.output

        return asyncio.run(question())  # its own loop, closed when the question ends

    def wants(self, record: dict[str, Any]) -> bool:
        """True for a decision about a situation this agent takes: one of its kinds, or
        (with none configured) one that no playbook handled, in its domain."""
        assert self.spec.llm is not None
        if record.get("record") != "decision" or record.get("domain") != self.spec.domain:
            return False
        kinds = self.spec.llm.situations
        if kinds:
            return str(record.get("situation_kind")) in kinds and \
                record.get("decided_by") != self.spec.id
        return record.get("outcome") == "unhandled"

    def resources(self, record: dict[str, Any]) -> list[str]:
        """The services a proposal about this situation may act on: its own and what it
        depends on, else the services of the agent's domain."""
        service = self.org.service.get(str(record.get("entity", "")))
        if service is not None:
            return [service.id, *service.dependencies][:MAX_RESOURCES]
        team = self.org.team
        return sorted(s.id for s in self.org.services
                      if team[s.team].domain == self.spec.domain)[:MAX_RESOURCES]

    def prompt(self, record: dict[str, Any]) -> str:
        """The prompt about one situation: what it is, the service, the kinds allowed."""
        entity = str(record.get("entity", ""))
        service = self.org.service.get(entity)
        about: dict[str, Any] = {
            "situation": {"id": record.get("situation"), "kind": record.get("situation_kind"),
                          "entity": entity, "domain": record.get("domain"),
                          "time": record.get("time")},
            "allowed_kinds": list(self.spec.actions), "resources": self.resources(record)}
        if service is not None:
            about["service"] = {"id": service.id, "tier": service.tier, "team": service.team,
                                "dependencies": list(service.dependencies),
                                "customer_facing": service.customer_facing}
        return orjson.dumps(about, option=orjson.OPT_SORT_KEYS).decode()

    def proposal_id(self, situation: str) -> str:
        """The id of this agent's proposal about a situation (one situation, one answer)."""
        return "llm-" + digest(situation)[:16]

    def think(self, host: EngineHost, record: dict[str, Any]) -> Thought:
        """Ask the model within the deadline; the event that carries its answer (or a
        proposal for a person to take over, saying why there is no answer)."""
        from pydantic_ai.exceptions import RunTimedOut, UnexpectedModelBehavior

        situation = str(record["situation"])
        prompt = self.prompt(record)
        pid = self.proposal_id(situation)
        facts = {"model": self.model_name, "prompt_digest": digest(prompt)}
        try:
            answer = self.ask(prompt, output_type(list(self.spec.actions),
                                                  self.resources(record) or None))
        except RunTimedOut:
            return self._failed(host, record, pid, facts,
                                f"no answer within its {self.deadline_s:g} s deadline")
        except UnexpectedModelBehavior as exc:
            cause = f": {exc.__cause__}" if exc.__cause__ else ""
            return self._failed(host, record, pid, facts, f"malformed model output ({exc}"
                                f"{cause})".replace("\n", " ")[:600])
        except Exception as exc:  # the endpoint is down or refused the request
            return self._failed(host, record, pid, facts,
                                f"the model could not be asked: {exc.__class__.__name__}: "
                                f"{str(exc)[:300]}")
        output = answer.model_dump(mode="json")
        response = orjson.dumps(output, option=orjson.OPT_SORT_KEYS).decode()
        facts.update(response=response, response_digest=digest(response))
        try:
            body = ProposalBody(kind=output["kind"], resource=output["resource"][:200],
                                rationale=output["rationale"][:2000] or "(none given)",
                                risk=output["risk"], id=pid,
                                evidence={"situation": situation, "event": record.get("event")})
            event = host.run(lambda engine: proposal_event(
                engine, self.spec.id, body, at=host.now(), extra={"llm": facts}))
        except (BatonError, ValidationError) as exc:  # a resource that does not exist, say
            return self._failed(host, record, pid, facts, f"unusable proposal: {exc}")
        return Thought(situation=situation, event=event)

    def _failed(self, host: EngineHost, record: dict[str, Any], pid: str,
                facts: dict[str, str], why: str) -> Thought:
        entity = str(record.get("entity") or "-")
        kind = "Service" if entity in self.org.service else "Entity"
        body = ProposalBody(kind=HANDOFF, resource=entity, resource_type=kind, id=pid,
                            rationale=f"{self.spec.id} gave no proposal: {why}",
                            evidence={"situation": str(record["situation"])})
        event = host.run(lambda engine: proposal_event(
            engine, self.spec.id, body, at=host.now(),
            extra={"llm": {**facts, "response": "", "response_digest": ""}, "failure": why}))
        return Thought(situation=str(record["situation"]), event=event, failure=why)


class LlmRunner:
    """Runs the LLM agents beside the engine: reads new decisions, asks, sends answers."""

    def __init__(self, host: EngineHost, agents: list[LlmAgent]) -> None:
        self.host, self.agents = host, agents
        self.cursor = 0  # the last ledger row read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def configured(cls, host: EngineHost) -> LlmRunner | None:
        """A runner for the organisation's LLM agents, or None when it has none (or the
        `llm` extra is not installed, which is logged)."""
        specs = [a for a in host.config.org.agents if a.kind == "llm"]
        if not specs:
            return None
        try:
            return cls(host, [LlmAgent(s, host.config.org) for s in specs])
        except (InputError, ImportError) as exc:
            log.warning("LLM agents are not started: %s", exc)
            return None

    def step(self) -> list[Thought]:
        """Think about every new decision some agent takes; send the answers."""
        thoughts: list[Thought] = []
        rows = list(self.host.store.ledger_rows(after=self.cursor))
        for row in rows:
            self.cursor = row.seq
            record = orjson.loads(row.body)
            if record.get("situation_kind") == PROPOSAL:
                continue  # never about an agent's own proposal
            for agent in self.agents:
                if agent.wants(record) and not self._asked(agent, record):
                    thought = agent.think(self.host, record)
                    self.host.submit([thought.event])
                    thoughts.append(thought)
        return thoughts

    def _asked(self, agent: LlmAgent, record: dict[str, Any]) -> bool:
        """True when the agent's answer about this situation is in the log already (a
        restarted runner never asks the model twice)."""
        from baton.agents import answers
        from baton.agents.roster import event_key

        pid = agent.proposal_id(str(record["situation"]))
        return bool(self.host.store.unprocessed([event_key(agent.spec.id, pid)])) or \
            self.host.store.decision(answers.decision_id(agent.spec.id, pid)) is not None

    def start(self, every_s: float = 1.0) -> None:
        """Step in a thread until `stop`, from the decisions recorded after now on."""
        self.cursor = max(self.cursor, self.host.store.ledger_head()[0])
        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.step()
                except Exception:  # the database went away; the next turn retries
                    log.exception("the LLM agents' turn failed")

        self._thread = threading.Thread(target=loop, name="baton-llm", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current turn."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
