"""Authentication: projects and API keys, users and passwords, dashboard sessions."""
