"""Model prices on the server: the shipped table, project prices, span costs at ingest."""
