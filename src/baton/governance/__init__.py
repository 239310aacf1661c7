"""Governance: Cedar policies, autonomy levels, budgets and the kill switch."""
