"""Demo data: a small instrumented RAG support assistant whose traces seed a fresh platform."""

from haloscope.platform.demo.seed import DemoResult, seed_demo

__all__ = ["DemoResult", "seed_demo"]
