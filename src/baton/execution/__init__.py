"""Execution: connectors that carry actions to their targets, retries, compensation."""
