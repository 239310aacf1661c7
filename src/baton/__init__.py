"""Baton: governed autonomous agents for operations coordination."""

__version__ = "0.1.0"
