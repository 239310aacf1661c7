"""The `itops` scenario: an online retailer's IT operations, with a seeded simulated world."""

from baton.scenarios.itops.world import ItopsWorld

__all__ = ["ItopsWorld"]
