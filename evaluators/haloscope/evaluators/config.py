"""Evaluator configuration: frozen dataclasses validated from plain dicts, with a JSON Schema."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A configuration that does not match its evaluator's schema."""


def build_config(config_cls: type, values: Mapping[str, Any] | None, owner: str) -> Any:
    """Validate ``values`` against the dataclass ``config_cls`` and return an instance.

    Unknown keys, wrong types and values rejected by the class's ``__post_init__`` raise a
    :class:`ConfigError` that names ``owner`` (the evaluator) and the offending key.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{owner}: unknown config key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(fields)) or '(none)'}"
        )
    hints = get_type_hints(config_cls)
    converted = {
        key: _coerce(value, hints[key], f"{owner}: config {key!r}") for key, value in values.items()
    }
    try:
        return config_cls(**converted)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{owner}: {exc}") from exc


def config_json_schema(config_cls: type) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) describing ``config_cls``, for APIs and forms."""
    hints = get_type_hints(config_cls)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        prop = _type_schema(hints[f.name])
        if f.default is not dataclasses.MISSING:
            prop["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            prop["default"] = f.default_factory()
        properties[f.name] = prop
    required = [
        f.name
        for f in dataclasses.fields(config_cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert lists to tuples, ints to floats."""
    origin = get_origin(tp)
    if _is_union(tp):
        for option in get_args(tp):
            try:
                return _coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(
            f"{where}: expected {_describe(tp)}, got {type(value).__name__} {value!r}"
        )
    if tp is type(None):
        if value is None:
            return None
    elif origin is Literal:
        if value in get_args(tp):
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        (item_tp, _ellipsis) = get_args(tp)
        if isinstance(value, list | tuple):
            return tuple(_coerce(v, item_tp, where) for v in value)
    elif origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if isinstance(value, Mapping):
            return dict(value)
    else:
        raise TypeError(f"unsupported config annotation {tp!r}")
    raise ConfigError(f"{where}: expected {_describe(tp)}, got {type(value).__name__} {value!r}")


def _describe(tp: Any) -> str:
    if _is_union(tp):
        return " or ".join(_describe(t) for t in get_args(tp))
    if tp is type(None):
        return "null"
    if get_origin(tp) is Literal:
        return f"one of {list(get_args(tp))}"
    if get_origin(tp) is tuple:
        return f"list of {_describe(get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _type_schema(tp: Any) -> dict[str, Any]:
    if _is_union(tp):
        return {"anyOf": [_type_schema(t) for t in get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if get_origin(tp) is Literal:
        return {"enum": list(get_args(tp))}
    if get_origin(tp) is tuple:
        return {"type": "array", "items": _type_schema(get_args(tp)[0])}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    return {"type": "object"}
