"""Scores sent through the API (people, apps, the SDK): validation, identity and configs."""
