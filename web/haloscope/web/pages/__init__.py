"""The dashboard's page routers, one module per area."""
