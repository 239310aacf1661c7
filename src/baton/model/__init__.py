"""Plain typed data for events, situations, proposals and decisions: no I/O."""

from baton.model.decisions import Decision, Escalation, Verdict, VerdictKind
from baton.model.events import Event
from baton.model.objectives import Objectives
from baton.model.proposals import Action, Proposal
from baton.model.situations import Situation

__all__ = [
    "Action",
    "Decision",
    "Escalation",
    "Event",
    "Objectives",
    "Proposal",
    "Situation",
    "Verdict",
    "VerdictKind",
]
