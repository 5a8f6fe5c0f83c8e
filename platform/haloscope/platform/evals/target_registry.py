"""The targets and eval configs a deployment lets people run from the dashboard.

A run started from the dashboard names a registered target and a registered config, never a
module or a path: only what the deployment lists in the file ``HALOSCOPE_EVAL_TARGETS``
points to is ever imported or called. The file (YAML, JSON or TOML)::

    targets:
      rag-prod:
        function: examples.rag.app:answer          # an importable module:function
        description: the production assistant
      chat:
        endpoint: https://llm.internal/v1          # an OpenAI-compatible endpoint
        model: gpt-4o-mini
        api_key_env: LLM_API_KEY                   # the key is read from this variable
        prompt: "Context: {{ context | join(' ') }}\\nQuestion: {{ input }}"
        system: Answer briefly.                    # optional; temperature, max_tokens,
                                                   # timeout_s too
    configs:
      rag: eval.yaml                               # relative to this file

The prompt of an endpoint target may be replaced when a run is started (a sandboxed Jinja2
template, see :class:`~haloscope.platform.evals.targets.EndpointTarget`); its endpoint, model
and key may not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haloscope.platform.evals.config import EvalConfig, load_config, read_structured
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.targets import CallableTarget, EndpointTarget, Target

_TARGET_KEYS = {
    "function", "endpoint", "model", "api_key_env", "prompt", "system", "temperature",
    "max_tokens", "timeout_s", "description",
}  # fmt: skip


@dataclass(frozen=True)
class RegisteredTarget:
    """One target of the registry: a function (``module:function``) or an endpoint."""

    name: str
    function: str | None = None
    endpoint: str | None = None
    model: str = ""
    api_key_env: str = ""
    prompt: str = ""
    system: str = ""
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 60.0
    description: str = ""

    @property
    def kind(self) -> str:
        """``function`` or ``endpoint``."""
        return "function" if self.function else "endpoint"

    def build(self, prompt: str = "") -> Target:
        """The target, ready to run; ``prompt`` replaces an endpoint's template when given."""
        if self.function:
            return CallableTarget(self.function)
        return EndpointTarget(
            self.name,
            self.endpoint or "",
            self.model,
            prompt or self.prompt,
            api_key=os.environ.get(self.api_key_env, "") if self.api_key_env else "",
            system=self.system,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
        )


@dataclass(frozen=True)
class TargetRegistry:
    """The registered targets and eval configs (paths), by name."""

    targets: Mapping[str, RegisteredTarget] = field(default_factory=dict)
    configs: Mapping[str, Path] = field(default_factory=dict)
    source: str = ""

    def target(self, name: str) -> RegisteredTarget:
        """The target registered as ``name``; EvalUsageError otherwise."""
        if name not in self.targets:
            raise EvalUsageError(f"no target {name!r} is registered for dashboard runs")
        return self.targets[name]

    def config(self, name: str) -> EvalConfig:
        """The eval config registered as ``name``, read and validated now."""
        if name not in self.configs:
            raise EvalUsageError(f"no eval config {name!r} is registered for dashboard runs")
        return load_config(self.configs[name])


def _target(name: str, raw: Any, where: str) -> RegisteredTarget:
    if not isinstance(raw, Mapping):
        raise EvalUsageError(f"{where}: target {name!r} must be a mapping")
    unknown = sorted(set(raw) - _TARGET_KEYS)
    if unknown:
        raise EvalUsageError(f"{where}: target {name!r} has unknown key(s) {unknown}")
    if ("function" in raw) == ("endpoint" in raw):
        raise EvalUsageError(f"{where}: target {name!r} needs exactly one of function, endpoint")
    if "endpoint" in raw and not (raw.get("model") and raw.get("prompt")):
        raise EvalUsageError(f"{where}: endpoint target {name!r} needs a model and a prompt")
    try:
        return RegisteredTarget(
            name=name,
            function=str(raw["function"]) if "function" in raw else None,
            endpoint=str(raw["endpoint"]) if "endpoint" in raw else None,
            model=str(raw.get("model", "")),
            api_key_env=str(raw.get("api_key_env", "")),
            prompt=str(raw.get("prompt", "")),
            system=str(raw.get("system", "")),
            temperature=float(raw.get("temperature", 0.0)),
            max_tokens=int(raw.get("max_tokens", 512)),
            timeout_s=float(raw.get("timeout_s", 60.0)),
            description=str(raw.get("description", "")),
        )
    except (TypeError, ValueError) as exc:
        raise EvalUsageError(f"{where}: target {name!r}: {exc}") from exc


def load_registry(spec: str) -> TargetRegistry:
    """The registry in the file ``spec`` (empty: nothing registered); EvalUsageError with the
    reason when it is missing or malformed."""
    if not spec:
        return TargetRegistry()
    path = Path(spec)
    raw = read_structured(path, "HALOSCOPE_EVAL_TARGETS file") or {}
    if not isinstance(raw, Mapping) or set(raw) - {"targets", "configs"}:
        raise EvalUsageError(f"{path}: expected a mapping with 'targets' and 'configs'")
    targets, configs = raw.get("targets") or {}, raw.get("configs") or {}
    if not isinstance(targets, Mapping) or not isinstance(configs, Mapping):
        raise EvalUsageError(f"{path}: 'targets' and 'configs' must be mappings")
    return TargetRegistry(
        targets={str(n): _target(str(n), t, str(path)) for n, t in targets.items()},
        configs={str(n): (path.parent / str(c)).resolve() for n, c in configs.items()},
        source=str(path),
    )
