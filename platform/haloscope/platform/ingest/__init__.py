"""Ingestion: request bodies to validated span rows (SDK batch and OTLP), and the batching
span writer that moves accepted rows into the trace store."""
