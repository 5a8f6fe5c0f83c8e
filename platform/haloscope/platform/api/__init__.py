"""The HTTP API: SDK and OTLP ingest, trace queries, metrics and health (FastAPI)."""
