"""JSON serialisation of arbitrary application values; never fails.

Runs in the exporter's background thread. Values the ``json`` module does not know
are converted (dataclasses, pydantic models, bytes, dates, sets, enums, ...); anything
else becomes its ``repr``. Oversized values are replaced by the truncation marker of
docs/wire-format.md.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ._logging import log_once

_MAX_DEPTH = 32
_SCALARS = (str, int, bool, type(None))

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _convert_known(value: object) -> tuple[bool, Any]:
    """Map a non-JSON value onto a JSON-friendlier one; ``(False, None)`` when unknown."""
    if isinstance(value, (set, frozenset)):
        return True, list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return True, raw.decode("utf-8")
        except UnicodeDecodeError:
            return True, "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return True, value.isoformat()
    if isinstance(value, datetime.timedelta):
        return True, value.total_seconds()
    if isinstance(value, enum.Enum):
        return True, value.value
    if isinstance(value, BaseException):
        return True, f"{type(value).__name__}: {value}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True, {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        return True, model_dump(mode="json")
    if type(value).__module__ in ("uuid", "decimal", "pathlib", "ipaddress"):
        return True, str(value)
    return False, None


def _default(value: object) -> Any:
    """``json`` fallback hook: convert what we know, ``repr`` the rest."""
    try:
        known, converted = _convert_known(value)
    except Exception:
        return _safe_repr(value)
    return converted if known else _safe_repr(value)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A deep copy of ``value`` made only of dict/list/str/int/float/bool/None."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return "<max depth reached>"
    if isinstance(value, Mapping):
        return {
            (k if isinstance(k, str) else str(k)): to_jsonable(v, _depth + 1)
            for k, v in list(value.items())
        }
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in list(value)]
    try:
        known, converted = _convert_known(value)
    except Exception:
        return _safe_repr(value)
    if known:
        return to_jsonable(converted, _depth + 1)
    return _safe_repr(value)


_fast_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
)

REDACTION_FAILED = "<redaction failed>"


def dumps(value: Any) -> str:
    """Compact JSON text for any value (the C encoder first, a safe walk when it balks)."""
    try:
        return _fast_encoder.encode(value)
    except (TypeError, ValueError, RecursionError, RuntimeError):
        # Non-string keys, NaN, cycles, or a container mutated while we read it.
        pass
    try:
        return _encoder.encode(to_jsonable(value))
    except Exception:
        return _encoder.encode(_safe_repr(value))


def truncation_marker(value: Any, text: str, size: int, max_bytes: int) -> str:
    """The wire-format marker replacing a value whose JSON text is ``size`` bytes."""
    source = value if isinstance(value, str) else text
    preview = source[:max_bytes].encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    return _encoder.encode({"__truncated__": True, "preview": preview, "original_size": size})


def encode_field(value: Any, max_bytes: int, redact: Callable[[Any], Any] | None = None) -> str:
    """JSON text of a captured value after redaction, truncated past ``max_bytes``.

    A redaction hook that raises never lets the unredacted value through.
    """
    if redact is not None:
        try:
            value = redact(to_jsonable(value))
        except Exception:
            log_once("redact", "haloscope: the redact hook raised; the value was withheld")
            value = REDACTION_FAILED
    text = dumps(value)
    if len(text) * 4 <= max_bytes:
        return text
    size = len(text.encode("utf-8"))
    if size <= max_bytes:
        return text
    return truncation_marker(value, text, size, max_bytes)
