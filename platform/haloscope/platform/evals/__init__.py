"""Offline evaluation: versioned datasets, eval runs over a target, and the CI gate.

Everything here works from files (no server needed); :mod:`.platform_client` records runs
and verdicts in a Haloscope platform when one is configured.
"""
