"""Agents outside Baton's own playbooks: outside AI agents (the agent API and the MCP
server) and the built-in LLM agent, all held to the same governance and ledger."""
