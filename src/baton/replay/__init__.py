"""Replay a recorded operations log through the engine in shadow mode, and measure it."""
