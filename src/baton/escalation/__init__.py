"""Escalation: who may answer a human decision request, and by when."""
