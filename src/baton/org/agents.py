"""Outside and LLM agents as principals of the organisation: who owns them, what they may do."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AGENT_ID = r"^[a-z0-9][a-z0-9._-]{0,62}$"
Level = Literal["observe", "shadow", "approve", "autonomous"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Strict):
    """At most `count` proposals in any `minutes` of engine time."""

    count: int = Field(ge=1, le=100_000)
    minutes: float = Field(default=60.0, gt=0, le=10_080)


class LlmEndpoint(_Strict):
    """An OpenAI-compatible endpoint the built-in LLM agent asks (`baton[llm]`)."""

    base_url: str = Field(min_length=1, max_length=500)
    model: str = Field(min_length=1, max_length=200)
    api_key_env: str = Field(default="BATON_LLM_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]{0,99}$")
    situations: list[str] = Field(default_factory=list)  # empty: those no playbook covers
    deadline_s: float = Field(default=30.0, gt=0, le=3600)
    forced_tool_choice: bool = True  # False for servers that refuse tool_choice="required"


class AgentPrincipal(_Strict):
    """An agent outside Baton's own playbooks, held to the same governance as they are."""

    id: str = Field(pattern=AGENT_ID)
    name: str = ""
    owner: str  # the person answerable for it
    domain: str
    kind: Literal["outside", "llm"] = "outside"
    actions: list[str] = Field(min_length=1)  # the action kinds it may propose
    autonomy: Level | None = None  # its cap; llm agents default to approve, others autonomous
    budget: int | None = Field(default=None, ge=0)  # budget units per organisation day
    rate_limit: RateLimit = RateLimit(count=60, minutes=60)
    llm: LlmEndpoint | None = None

    @model_validator(mode="after")
    def _llm_has_endpoint(self) -> AgentPrincipal:
        if self.kind == "llm" and self.llm is None:
            raise ValueError(f"agent {self.id!r} is of kind llm: give its llm endpoint "
                             "(base_url, model)")
        if self.kind == "outside" and self.llm is not None:
            raise ValueError(f"agent {self.id!r} has an llm endpoint: set kind: llm")
        return self

    @property
    def cap(self) -> str:
        """The autonomy level this agent is capped at."""
        if self.autonomy is not None:
            return self.autonomy
        return "approve" if self.kind == "llm" else "autonomous"
