"""Haloscope tracing SDK: ``@observe``, ``span()``, and background export to Haloscope.

Standard library only. Quick start::

    from haloscope.sdk import init, observe

    init()  # reads HALOSCOPE_HOST, HALOSCOPE_PUBLIC_KEY, HALOSCOPE_SECRET_KEY

    @observe(as_type="llm")
    def answer(question: str) -> str: ...
"""

from ._version import __version__
from .client import Client, flush, get_client, init, shutdown
from .context import ContextExecutor, wrap_context
from .exporter import ExportStats
from .observe import observe
from .pricing import compute_cost, get_model_price, register_model_price
from .scores import score
from .spans import Span, set_clock
from .tracing import (
    current_span_id,
    current_trace_id,
    get_current_span_id,
    get_current_trace_id,
    span,
    update_current_span,
    update_current_trace,
)

__all__ = [
    "Client",
    "ContextExecutor",
    "ExportStats",
    "Span",
    "__version__",
    "compute_cost",
    "current_span_id",
    "current_trace_id",
    "flush",
    "get_client",
    "get_current_span_id",
    "get_current_trace_id",
    "get_model_price",
    "init",
    "observe",
    "register_model_price",
    "score",
    "set_clock",
    "shutdown",
    "span",
    "update_current_span",
    "update_current_trace",
    "wrap_context",
]
