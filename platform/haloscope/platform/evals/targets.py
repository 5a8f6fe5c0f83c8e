"""What an eval run runs: a Python callable, a shell command (JSON in, JSON out), a file
of precomputed outputs, or an OpenAI-compatible chat endpoint with a prompt template; and the
output cache keyed by the target and the item's input hash.

A target receives the item as ``{"id", "input", "expected_output", "context", "metadata"}``
and answers either a string (the output) or an object ``{"output": ..., "contexts": [...]}``
where ``contexts`` are the passages the app actually used (the item's context otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from haloscope.platform.evals.datasets import DatasetItem
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.importing import import_callable
from haloscope.platform.evals.jsonutil import canonical_json, content_hash

COMMAND_TIMEOUT_S = 300.0


class TargetError(RuntimeError):
    """The target failed on one item; the item is recorded with this error."""


@dataclass(frozen=True)
class TargetOutput:
    """A target's answer to one item."""

    output: str
    contexts: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (cache files, run files)."""
        return {
            "output": self.output,
            "contexts": None if self.contexts is None else list(self.contexts),
        }


def parse_output(value: Any, where: str) -> TargetOutput:
    """A target's raw answer (string, or object with ``output`` and ``contexts``)."""
    if isinstance(value, str):
        return TargetOutput(value)
    if isinstance(value, Mapping) and "output" in value:
        contexts = value.get("contexts")
        if contexts is not None and (
            not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts)
        ):
            raise TargetError(f"{where}: 'contexts' must be a list of strings")
        output = value["output"]
        return TargetOutput(
            output if isinstance(output, str) else canonical_json(output),
            None if contexts is None else tuple(contexts),
        )
    raise TargetError(f"{where}: expected a string or an object with 'output', got {value!r:.200}")


class Target(Protocol):
    """Produces an output for an item; ``identity`` names it in cache keys and run files."""

    identity: str
    cacheable: bool

    def __call__(self, item: DatasetItem) -> TargetOutput:
        """The target's output for ``item``; raises :class:`TargetError` on failure."""


class CallableTarget:
    """A Python function ``module:function`` called with the item dict."""

    cacheable = True

    def __init__(self, spec: str) -> None:
        self.identity = f"python:{spec}"
        self._fn: Callable[[dict[str, Any]], Any] = import_callable(spec, "target")

    def __call__(self, item: DatasetItem) -> TargetOutput:
        try:
            value = self._fn(item.as_dict())
        except Exception as exc:  # the target's own failure is data about the item
            raise TargetError(f"{type(exc).__name__}: {exc}") from exc
        return parse_output(value, self.identity)


class CommandTarget:
    """A shell command run once per item: the item JSON on stdin, the answer JSON on stdout."""

    cacheable = True

    def __init__(self, command: str, timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        if not command.strip():
            raise EvalUsageError("--target-command is empty")
        self.identity = f"command:{command}"
        self._command = command
        self._timeout_s = timeout_s

    def __call__(self, item: DatasetItem) -> TargetOutput:
        try:
            done = subprocess.run(
                self._command,
                shell=True,
                input=canonical_json(item.as_dict()),
                capture_output=True,
                text=True,
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TargetError(f"command timed out after {self._timeout_s:g} s") from exc
        if done.returncode != 0:
            raise TargetError(f"command exited {done.returncode}: {done.stderr.strip()[-500:]}")
        try:
            value = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise TargetError(
                f"command printed invalid JSON ({exc.msg}): {done.stdout[:200]!r}"
            ) from exc
        return parse_output(value, "command")


class OutputsFileTarget:
    """Precomputed outputs: a JSONL file of ``{"id": item_id, "output": ..., "contexts": ...}``."""

    cacheable = False

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise EvalUsageError(f"outputs file {path} does not exist")
        self.identity = f"file:{path.name}"
        self._outputs: dict[str, TargetOutput] = {}
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._outputs[str(record["id"])] = parse_output(record, f"{path}:{number}")
            except (json.JSONDecodeError, KeyError, TypeError, TargetError) as exc:
                raise EvalUsageError(
                    f"{path}:{number}: each line must be a JSON object with 'id' and 'output' ({exc})"
                ) from exc

    def __call__(self, item: DatasetItem) -> TargetOutput:
        if item.id not in self._outputs:
            raise TargetError(f"no precomputed output for item {item.id!r}")
        return self._outputs[item.id]


class EndpointTarget:
    """An OpenAI-compatible chat endpoint: the item rendered through ``prompt`` (a Jinja2
    template in the immutable sandbox: it sees ``id``, ``input``, ``expected_output``,
    ``context`` and ``metadata``, and can neither reach Python internals nor change them) is
    sent as the user message to ``{base_url}/chat/completions``; the first choice's content
    is the output."""

    cacheable = True

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str,
        prompt: str,
        *,
        api_key: str = "",
        system: str = "",
        temperature: float = 0.0,
        max_tokens: int = 512,
        timeout_s: float = 60.0,
    ) -> None:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        try:
            self._template = environment.from_string(prompt)
        except TemplateSyntaxError as exc:
            raise EvalUsageError(f"prompt template of {name!r}: {exc}") from exc
        self.identity = f"endpoint:{name}:{model}:{content_hash([prompt, system])[:12]}"
        self._body = {"model": model, "temperature": temperature, "max_tokens": max_tokens}
        self._system = system
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    def render(self, item: DatasetItem) -> str:
        """The user message for ``item``; TargetError when the template fails on it."""
        from jinja2 import TemplateError

        try:
            return self._template.render(**item.as_dict())
        except TemplateError as exc:  # also the sandbox's SecurityError
            raise TargetError(f"prompt template: {type(exc).__name__}: {exc}") from exc

    def __call__(self, item: DatasetItem) -> TargetOutput:
        messages = [{"role": "system", "content": self._system}] if self._system else []
        messages.append({"role": "user", "content": self.render(item)})
        try:
            response = self._http.post(
                "/chat/completions", json={**self._body, "messages": messages}
            )
        except httpx.HTTPError as exc:
            raise TargetError(f"endpoint unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise TargetError(
                f"endpoint answered HTTP {response.status_code}: {response.text[:300]}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TargetError("endpoint answer has no choices[0].message.content") from exc
        if not isinstance(content, str):
            raise TargetError("endpoint answer's content is not text")
        return TargetOutput(content)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


class OutputCache:
    """Target outputs on disk, keyed by SHA-256 of the target identity and the item's input,
    expected output and context; a changed target or item is a miss."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def key(self, target: Target, item: DatasetItem) -> str:
        """The cache key of ``item`` under ``target``."""
        return content_hash([target.identity, item.input, item.expected_output, list(item.context)])

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> TargetOutput | None:
        """The cached output, or None."""
        path = self._path(key)
        try:
            data = json.loads(path.read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        contexts = data.get("contexts")
        return TargetOutput(data["output"], None if contexts is None else tuple(contexts))

    def put(self, key: str, value: TargetOutput) -> None:
        """Store ``value`` atomically (write a temporary file, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(canonical_json(value.as_dict()))
        os.replace(tmp, path)


def make_target(callable_spec: str | None, command: str | None, outputs: Path | None) -> Target:
    """The target named by exactly one of the three CLI options."""
    given = [x for x in (callable_spec, command, outputs) if x is not None]
    if len(given) != 1:
        raise EvalUsageError(
            "give exactly one target: --target module:function, --target-command 'CMD' or "
            "--target-outputs FILE.jsonl"
        )
    if callable_spec is not None:
        return CallableTarget(callable_spec)
    if command is not None:
        return CommandTarget(command)
    return OutputsFileTarget(outputs)  # type: ignore[arg-type]
