"""The API and dashboard: FastAPI, server-rendered pages, live updates by server-sent events."""
