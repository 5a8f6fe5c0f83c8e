"""Instrumentation for third-party clients (imported explicitly, never by ``haloscope.sdk``)."""
