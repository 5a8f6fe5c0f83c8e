"""Haloscope platform: ingest and query API, trace store, metadata DB, jobs and CLI."""
