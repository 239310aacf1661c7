"""The organisation: teams, people, rotations, services, budgets, freezes."""

from baton.org.loader import load_organisation
from baton.org.model import Organisation

__all__ = ["Organisation", "load_organisation"]
