"""Simulation parameters: one YAML, every value with its source or marked as an assumption."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from baton.yamlsrc import load_yaml

BUNDLED = Path(__file__).resolve().parent / "params"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(_Strict):
    """One value with where it comes from: a cited source, or the reason for an assumption."""

    value: float | dict[int, float]
    unit: str = ""
    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _provenance(self) -> Param:
        if bool(self.source and self.source.strip()) == bool(
                self.assumption and self.assumption.strip()):
            raise ValueError("give exactly one of `source` (title, publisher, year) or "
                             "`assumption` (why this value)")
        values = self.value.values() if isinstance(self.value, dict) else [self.value]
        if any(v < 0 for v in values):
            raise ValueError("values must be >= 0")
        return self

    def scaled(self, factor: float) -> Param:
        """The same parameter with its value multiplied by `factor`."""
        value: float | dict[int, float] = (
            {k: v * factor for k, v in self.value.items()} if isinstance(self.value, dict)
            else self.value * factor)
        return self.model_copy(update={"value": value})


class Parameters(_Strict):
    """How people and hierarchies work: the human side of both models."""

    span_of_control: Param
    shared_dependency_share: Param
    manager_coordination_share: Param
    incident_minutes: Param
    responders_per_incident: Param
    ack_minutes: Param
    wake_up_minutes: Param
    triage_minutes: Param
    decision_minutes: Param
    handoff_minutes: Param
    sync_every_working_hours: Param
    meeting_item_minutes: Param
    decision_variability: Param
    sla_minutes: Param
    cascade_minutes: Param

    @field_validator("manager_coordination_share", "decision_variability",
                     "shared_dependency_share")
    @classmethod
    def _share(cls, p: Param) -> Param:
        if not isinstance(p.value, float | int) or not 0 <= p.value < 1:
            raise ValueError("must be a share: 0 <= value < 1")
        return p

    @field_validator("sla_minutes")
    @classmethod
    def _by_severity(cls, p: Param) -> Param:
        if not isinstance(p.value, dict) or sorted(p.value) != [0, 1, 2, 3, 4]:
            raise ValueError("must map every severity 0-4 to minutes")
        return p


class Workload(_Strict):
    """Situations per day at load 1 for the scenario's organisation, by kind."""

    ticket_opened: Param
    leaf_outages: Param
    foundation_outages: Param
    bad_deploys: Param
    latency_regression: Param
    saturation: Param
    cost_anomaly: Param
    storage_growth: Param
    access_violation: Param
    credential_leaked: Param
    cert_expiring: Param


class Run(_Strict):
    """How much to simulate: horizon, load sweep, organisation sizes, sensitivity."""

    days: float = Field(gt=0)
    drain_days: float = Field(ge=1)
    loads: list[float] = Field(min_length=2)
    sizes: list[int] = Field(min_length=2)
    size_situations: int = Field(ge=50)
    sensitivity_days: float = Field(gt=0)
    sensitivity_tries: int = Field(ge=1)
    sensitivity_sizes: list[int] = Field(min_length=2)
    sensitivity_situations: int = Field(ge=50)
    start: datetime | None = None  # when set, replaces the file's start for this run

    @field_validator("start")
    @classmethod
    def _aware_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start must carry a time zone (e.g. 2026-03-02T00:00:00Z)")
        return value

    @field_validator("loads", "sizes", "sensitivity_sizes")
    @classmethod
    def _ascending(cls, values: list[Any]) -> list[Any]:
        if any(v <= 0 for v in values) or sorted(values) != values:
            raise ValueError("must be positive and ascending")
        return values


class SimParams(_Strict):
    """The whole parameter file."""

    scenario: str
    seed: int = 7
    start: datetime
    breach_threshold: float = Field(gt=0, lt=1)
    run: Run
    quick: Run
    parameters: Parameters
    workload: Workload
    file: str = ""

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a time zone (e.g. 2026-03-02T00:00:00Z)")
        return value

    def p(self, name: str) -> float:
        """A scalar parameter's value."""
        value = getattr(self.parameters, name).value
        if isinstance(value, dict):
            raise TypeError(f"{name} is a table, not a number")
        return float(value)

    def sla(self, severity: int) -> float:
        """The response target in minutes for a severity."""
        table = self.parameters.sla_minutes.value
        assert isinstance(table, dict)
        return float(table.get(severity, max(table.values())))

    def rate(self, kind: str) -> float:
        """Situations per day at load 1 for a workload kind."""
        return float(getattr(self.workload, kind).value)

    def assumptions(self) -> list[str]:
        """Names of the parameters that are assumptions, in file order."""
        return [name for name in Parameters.model_fields
                if getattr(self.parameters, name).assumption]

    def varied(self, name: str, factor: float) -> SimParams:
        """A copy with one parameter multiplied by `factor`."""
        changed = getattr(self.parameters, name).scaled(factor)
        return self.model_copy(update={"parameters": self.parameters.model_copy(
            update={name: changed})})

    def table(self) -> list[dict[str, Any]]:
        """Every parameter with its value, unit and provenance, for reports."""
        rows: list[dict[str, Any]] = []
        for section, model in (("parameters", self.parameters), ("workload", self.workload)):
            for name in type(model).model_fields:
                p: Param = getattr(model, name)
                rows.append({"section": section, "name": name, "value": p.value,
                             "unit": p.unit, "source": p.source,
                             "assumption": p.assumption})
        return rows


def load_params(path: Path | None = None, scenario: str = "itops") -> SimParams:
    """Load and validate a parameter file (default: the bundled one for `scenario`)."""
    target = path if path is not None else BUNDLED / f"{scenario}.yaml"
    doc = load_yaml(target)
    if not isinstance(doc.data, dict):
        raise doc.error((), "the parameter file must be a mapping")
    params = doc.validate(SimParams)
    return params.model_copy(update={"file": str(target)})
