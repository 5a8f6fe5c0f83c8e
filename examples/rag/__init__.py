"""A small deterministic RAG app used to demonstrate the Haloscope eval gate."""
