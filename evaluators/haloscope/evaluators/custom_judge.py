"""Custom LLM judges: a project's own rubric, verdict choices and threshold, scored like the
built-in judge (one forward pass, the choices' next-token probabilities, no decoding).

A judge is described by a spec (a dict, e.g. read from YAML)::

    name: correctness
    description: Is the answer wrong given the reference?
    system: You grade answers against a reference answer...
    template: |
      QUESTION: {{ input }}
      REFERENCE: {{ reference }}
      ANSWER: {{ output }}
      Is the answer wrong? Yes or No:
    choices: [Yes, No]        # mode "choice" (default): score = P(positive)
    positive: "Yes"
    labels: [correct, wrong]  # optional (negative, positive) label names
    threshold: 0.5

With ``mode: scale`` the choices are the digits 1-5 and the score is the expected value over
them read from the same single pass, normalised to [0, 1] (``(E - 1) / 4``). The template is
Jinja2, rendered in a sandbox, over the fields ``input``, ``output``, ``contexts`` (the
passages joined by blank lines), ``reference`` and ``metadata.<key>``; anything else is refused
when the spec is parsed. The evaluator's name is ``custom:<name>``; its version is the stored
judge version (``0`` for a judge read from a file).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haloscope.evaluators.base import Evaluator, Outcome, Resources
from haloscope.evaluators.results import EvalInput
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

if TYPE_CHECKING:
    from jinja2 import Template

CUSTOM_PREFIX = "custom:"
ITEM_FIELDS = ("input", "output", "contexts", "reference")
SCALE_CHOICES = ("1", "2", "3", "4", "5")
MODES = ("choice", "scale")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_SPEC_KEYS = {
    "name", "description", "system", "template", "mode", "choices", "positive", "labels",
    "threshold", "note",
}  # fmt: skip
TEMPLATE_DIR = Path(__file__).parent / "judge_templates"
MAX_TEXT = 20_000


class JudgeSpecError(ValueError):
    """A custom judge spec that cannot run; the message says why."""


_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)


@dataclass(frozen=True)
class JudgeSpec:
    """A validated custom judge. ``fields`` are the item fields its template reads,
    ``metadata_keys`` the metadata keys; ``labels`` are (negative, positive)."""

    name: str
    system: str
    template: str
    choices: tuple[str, ...]
    positive: str | None
    labels: tuple[str, str]
    threshold: float
    mode: str = "choice"
    description: str = ""
    fields: tuple[str, ...] = ()
    metadata_keys: tuple[str, ...] = ()

    @property
    def evaluator_name(self) -> str:
        """The registry-style name scores carry: ``custom:<name>``."""
        return CUSTOM_PREFIX + self.name

    def as_dict(self) -> dict[str, Any]:
        """The canonical stored form: equal wordings give equal dicts (a new wording is a
        new version)."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "system": self.system,
            "template": self.template,
            "mode": self.mode,
            "labels": list(self.labels),
            "threshold": self.threshold,
        }
        if self.mode == "choice":
            data["choices"] = list(self.choices)
            data["positive"] = self.positive
        return data

    def render(self, item: EvalInput) -> str:
        """The per-item text: the template over the item's fields (sandboxed)."""
        return _compiled(self.template).render(**template_fields(item))


def template_fields(item: EvalInput) -> dict[str, Any]:
    """What a judge template sees for one item."""
    return {
        "input": item.input,
        "output": item.output,
        "contexts": "\n\n".join(item.contexts),
        "reference": item.reference or "",
        "metadata": {str(k): _text(v) for k, v in (item.metadata or {}).items()},
    }


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True, default=str)


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    return _ENV.from_string(template)


def _referenced_fields(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(item fields, metadata keys) a template reads; anything else raises JudgeSpecError."""
    try:
        tree = _ENV.parse(template)
    except TemplateSyntaxError as exc:
        raise JudgeSpecError(f"template: syntax error on line {exc.lineno}: {exc.message}") from exc
    keys: set[str] = set()
    covered: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == "metadata"):
            continue
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key = node.arg.value
        else:
            raise JudgeSpecError("template: metadata keys must be literal (metadata.<key>)")
        if not _METADATA_KEY.match(key):
            raise JudgeSpecError(f"template: invalid metadata key {key!r}")
        keys.add(key)
        covered.add(id(target))
    names: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load":
            continue
        if name.name == "metadata":
            if id(name) not in covered:
                raise JudgeSpecError("template: use metadata.<key>, not metadata as a whole")
            continue
        names.add(name.name)
    allowed = [f for f in ITEM_FIELDS]
    unknown = sorted(names - set(allowed))
    if unknown:
        raise JudgeSpecError(
            f"template references unknown field(s) {unknown}; allowed: "
            f"{', '.join(allowed)}, metadata.<key>"
        )
    if not names and not keys:
        raise JudgeSpecError("template references no field; use e.g. {{ output }}")
    return tuple(f for f in ITEM_FIELDS if f in names), tuple(sorted(keys))


def _string(raw: Mapping[str, Any], key: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = raw.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise JudgeSpecError(f"{key} must be a string")
    value = value.strip() if key == "name" else value
    if required and not value.strip():
        raise JudgeSpecError(f"{key} is required")
    if len(value) > limit:
        raise JudgeSpecError(f"{key} is longer than {limit} characters")
    return value


def parse_judge_spec(raw: Any, check_tokens: bool = True) -> JudgeSpec:
    """Validate a judge spec dict. With ``check_tokens`` the choices are also tokenised with
    the default judge model's tokenizer and refused when two share a first token."""
    if not isinstance(raw, Mapping):
        raise JudgeSpecError("a judge spec must be a mapping")
    unknown = sorted(set(raw) - _SPEC_KEYS)
    if unknown:
        raise JudgeSpecError(f"unknown key(s) {unknown}; allowed: {sorted(_SPEC_KEYS)}")
    name = _string(raw, "name", limit=64)
    if not _NAME.match(name):
        raise JudgeSpecError(
            "name must be 1-64 characters: lowercase letters, digits, '_', '.', '-'"
        )
    system = _string(raw, "system")
    template = _string(raw, "template")
    description = _string(raw, "description", required=False, limit=1000)
    mode = raw.get("mode", "choice")
    if mode not in MODES:
        raise JudgeSpecError(f"mode must be one of {list(MODES)}")
    fields, metadata_keys = _referenced_fields(template)
    threshold = raw.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise JudgeSpecError("threshold must be a number")
    threshold = float(threshold)
    if not 0 < threshold < 1:
        raise JudgeSpecError("threshold must be in (0, 1)")
    if mode == "scale":
        if raw.get("choices") not in (None, list(SCALE_CHOICES)) or raw.get("positive"):
            raise JudgeSpecError("a scale judge reads the choices 1-5; set no choices/positive")
        choices: tuple[str, ...] = SCALE_CHOICES
        positive = None
        labels = _labels(raw, ("low", "high"))
    else:
        choices = _choices(raw.get("choices"))
        positive = raw.get("positive")
        if positive not in choices:
            raise JudgeSpecError(f"positive must be one of the choices {list(choices)}")
        others = [c for c in choices if c != positive]
        labels = _labels(raw, (others[0] if len(others) == 1 else f"not {positive}", positive))
    if check_tokens:
        check_first_tokens(choices)
    return JudgeSpec(
        name, system, template, choices, positive, labels, threshold, mode, description,
        fields, metadata_keys,
    )  # fmt: skip


def _choices(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
        raise JudgeSpecError("choices must be a list of strings")
    choices = tuple(value)
    if any(not c.strip() or len(c) > 40 for c in choices):
        raise JudgeSpecError("each choice must be 1-40 characters, not blank")
    if len(set(choices)) != len(choices) or len(choices) < 2:
        raise JudgeSpecError("choices must hold at least 2 distinct strings")
    if len(choices) > 10:
        raise JudgeSpecError("at most 10 choices")
    return choices


def _labels(raw: Mapping[str, Any], default: tuple[str, str]) -> tuple[str, str]:
    value = raw.get("labels")
    if value is None:
        return default
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, str) and v.strip() and len(v) <= 40 for v in value)
        or value[0] == value[1]
    ):
        raise JudgeSpecError("labels must be 2 distinct non-empty strings: [negative, positive]")
    return (value[0], value[1])


@functools.lru_cache(maxsize=1)
def _default_tokenizer() -> Any:
    """The default judge's tokenizer alone, rebuilt from the GGUF metadata (no weights)."""
    from haloscope.inference import default_judge_model_path
    from haloscope.inference.loader import read_gguf_metadata
    from haloscope.inference.tokenizer import tokenizer_from_gguf

    path = default_judge_model_path()
    return tokenizer_from_gguf(read_gguf_metadata(path), path)


def check_first_tokens(choices: Sequence[str], tokenizer: Any = None) -> None:
    """Refuse choices that tokenise to nothing or share a first token (the judge reads one
    next-token distribution, so such choices cannot be told apart)."""
    tokenizer = tokenizer or _default_tokenizer()
    firsts: dict[int, str] = {}
    for choice in choices:
        ids = tokenizer.encode(choice)
        if not ids:
            raise JudgeSpecError(f"choice {choice!r} tokenises to nothing")
        if ids[0] in firsts:
            raise JudgeSpecError(
                f"choices {firsts[ids[0]]!r} and {choice!r} start with the same token "
                f"({tokenizer.token_text(ids[0])!r}) for the judge model; reword one"
            )
        firsts[ids[0]] = choice


def read_judge_file(path: str | Path) -> dict[str, Any]:
    """A judge spec dict from a YAML or JSON file (not yet validated)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise JudgeSpecError(f"{path}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise JudgeSpecError(f"{path}: a judge file holds one mapping")
    return data


def builtin_templates() -> dict[str, dict[str, Any]]:
    """The built-in judge templates to start from, by name (each with a ``note``)."""
    import yaml

    found = {}
    for path in sorted(TEMPLATE_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        found[data["name"]] = data
    return found


class CustomJudge(Evaluator):
    """A project's judge from a :class:`JudgeSpec`; one ``score_choices`` batch per call."""

    name = "custom"
    version = "0"
    description = "custom LLM judge"
    requires = ()

    def __init__(
        self,
        spec: JudgeSpec | Mapping[str, Any],
        version: str | int = 0,
        config: Mapping[str, Any] | None = None,
        resources: Resources | None = None,
    ) -> None:
        super().__init__(config, resources)
        if not isinstance(spec, JudgeSpec):
            spec = parse_judge_spec(spec, check_tokens=False)
        self.spec = spec
        self.name = spec.evaluator_name  # type: ignore[misc]
        self.version = str(version)  # type: ignore[misc]
        self.description = spec.description or f"custom judge {spec.name}"  # type: ignore[misc]
        self.requires = spec.fields  # type: ignore[misc]
        self.binary_labels = spec.labels  # type: ignore[misc]
        self.threshold = spec.threshold

    def _missing_fields(self, item: EvalInput) -> str:
        missing = [f for f in self.requires if not getattr(item, f)]
        metadata = item.metadata or {}
        missing += [f"metadata.{k}" for k in self.spec.metadata_keys if k not in metadata]
        return ", ".join(missing)

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        engine = self.resources.engine
        tokenizer = getattr(engine, "tokenizer", None)
        try:
            # The torch engine's own tokenizer: refuse shared first tokens up front. Other
            # backends refuse them inside ``score_choices`` (vLLM from its tokenizer, the
            # OpenAI-compatible one from the endpoint's answer); their error fails the items.
            if tokenizer is not None and hasattr(tokenizer, "token_text"):
                check_first_tokens(self.spec.choices, tokenizer)
            texts = [self.spec.render(item) for item in items]
            prompts = [engine.chat_prompt(self.spec.system, text) for text in texts]
            result = engine.score_choices(prompts, self.spec.choices)
        except Exception as exc:  # noqa: BLE001  (the reason goes into every item's result)
            reason = f"{self.key}: {exc}"
            return [Outcome(None, None, error=reason) for _ in items]
        return [self._outcome(s.probs, s.choice_mass, s.error) for s in result.scores]

    def _outcome(self, probs: Mapping[str, float], mass: float, error: str | None) -> Outcome:
        if error:
            return Outcome(None, None, error=error)
        negative, positive = self.spec.labels
        if self.spec.mode == "scale":
            expected = sum(int(c) * probs[c] for c in SCALE_CHOICES)
            score = (expected - 1.0) / 4.0
            metrics = {"expected": expected, "choice_mass": mass}
        else:
            score = probs[self.spec.positive or ""]
            metrics = {"probability": score, "choice_mass": mass}
        score = min(max(score, 0.0), 1.0) if math.isfinite(score) else 0.0
        label = positive if score >= self.threshold else negative
        best = max(probs, key=probs.__getitem__)
        return Outcome(
            score, label, reason=f"judge's most probable choice: {best}", metrics=metrics
        )


def create_custom_judge(
    spec: JudgeSpec | Mapping[str, Any],
    version: str | int = 0,
    resources: Resources | None = None,
) -> CustomJudge:
    """A custom judge evaluator (``custom:<name>@<version>``) from its spec."""
    return CustomJudge(spec, version, None, resources)
