"""Judge backend for any OpenAI-compatible endpoint (vLLM or SGLang servers, hosted APIs)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from haloscope.inference.interface import (
    ChoiceScores,
    EngineStats,
    GenerateResult,
    Generation,
    JudgeEngine,
    JudgePrompt,
    ScoreResult,
    TokenScoreResult,
    TokenScores,
    refuse_hidden_states,
)
from haloscope.inference.sampling import MAX_TOP_LOGPROBS, SamplingParams

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MODES = ("chat", "completions")


class EndpointError(RuntimeError):
    """The endpoint answered with an error, or could not be reached, after all retries."""


class OpenAIJudgeEngine(JudgeEngine):
    """Sends each prompt as one request; ``concurrency`` requests are in flight at most.

    ``mode="chat"`` posts ``/chat/completions`` (prompt ``messages`` when present, else the
    prompt text as one user turn); ``mode="completions"`` posts ``/completions`` with the raw
    prompt text. Scores come from the first token's ``top_logprobs``: each returned token is
    credited to the one choice it spells (exactly, or as its start, ignoring surrounding
    whitespace). With no local tokenizer, choices sharing a first token are found in the
    answer: when tokens starting several choices outweigh the credited ones, every item of the
    call fails with the reason, and so does every later call with those choices.
    """

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        mode: str = "chat",
        timeout_s: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 8,
        backoff_s: float = 0.5,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; supported: {', '.join(MODES)}")
        if concurrency < 1 or max_retries < 0:
            raise ValueError("concurrency must be >= 1 and max_retries >= 0")
        self.model = model
        self.mode = mode
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_s = backoff_s
        self._ambiguous: dict[tuple[str, ...], str] = {}
        key = api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency),
        )

    def chat_prompt(self, rubric: str, item: str) -> JudgePrompt:
        """Rubric and item as system and user messages (text form: rubric, blank line, item)."""
        return JudgePrompt(
            prefix=rubric + "\n\n",
            suffix=item,
            messages=({"role": "system", "content": rubric}, {"role": "user", "content": item}),
        )

    def score_choices(
        self,
        prompts: Sequence[JudgePrompt],
        choices: Sequence[str],
        hidden_layer: int | None = None,
    ) -> ScoreResult:
        """Choice probabilities from the first generated token's top log-probabilities."""
        refuse_hidden_states(hidden_layer, "openai")
        if not choices:
            raise ValueError("choices must not be empty")
        key = tuple(choices)
        if key in self._ambiguous:
            return ScoreResult(
                [ChoiceScores(error=self._ambiguous[key]) for _ in prompts],
                EngineStats(num_prompts=len(prompts)),
            )
        body = {"max_tokens": 1, "temperature": 0.0, "logprobs_top": MAX_TOP_LOGPROBS}
        responses, stats = self._send_all(prompts, body)
        scores = []
        for response in responses:
            if isinstance(response, str):
                scores.append(ChoiceScores(error=response))
                continue
            top = self._tokens(response)[:1]
            try:
                scores.append(_choice_scores(top[0][2] if top else [], choices))
            except AmbiguousChoicesError as exc:
                # The choices are at fault, not the item: refuse them for every item, now and
                # in later calls, as the engines with a local tokenizer do up front.
                self._ambiguous[key] = str(exc)
                return ScoreResult([ChoiceScores(error=str(exc)) for _ in prompts], stats)
        return ScoreResult(scores, stats)

    def score_tokens(
        self, prompts: Sequence[JudgePrompt], continuations: Sequence[str]
    ) -> TokenScoreResult:
        """Continuation logprobs from the prompt log-probabilities the server echoes back.

        Posts ``/completions`` with the prompt text plus the continuation, ``echo: true`` and
        ``logprobs`` (whatever ``mode`` is; chat endpoints return no prompt logprobs) and reads
        the tokens that overlap the continuation. The server tokenizes the whole text, so a
        token may straddle the boundary; its span is clipped to the continuation. A vLLM or
        SGLang server supports this; OpenAI's hosted chat models do not, and each item then
        fails with the server's reason.
        """
        if len(prompts) != len(continuations):
            raise ValueError(
                f"{len(prompts)} prompts but {len(continuations)} continuations; pair them up"
            )
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            scores = list(pool.map(self._score_one, prompts, continuations))
        stats = EngineStats(num_prompts=len(prompts), wall_s=time.perf_counter() - start)
        return TokenScoreResult(scores, stats)

    def _score_one(self, prompt: JudgePrompt, continuation: str) -> TokenScores:
        if not continuation:
            return TokenScores(error="empty continuation")
        body = {
            "model": self.model,
            "prompt": prompt.text + continuation,
            "echo": True,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": 1,
        }
        try:
            response = self._post(("/completions", body))
        except EndpointError as exc:
            return TokenScores(error=f"{exc} (score_tokens needs echoed prompt logprobs)")
        return _continuation_scores(response, len(prompt.text), continuation)

    def generate(self, prompts: Sequence[JudgePrompt], params: SamplingParams) -> GenerateResult:
        """One completion per prompt with the sampling settings the API supports."""
        if params.choices is not None:
            raise ValueError("constrained choices are not supported by the openai backend")
        body: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "logprobs_top": params.top_logprobs,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        responses, stats = self._send_all(prompts, body)
        generations = []
        for response in responses:
            if isinstance(response, str):
                generations.append(Generation(error=response))
                continue
            choice = response["choices"][0]
            tokens = self._tokens(response)
            text = choice["message"]["content"] if self.mode == "chat" else choice["text"]
            generations.append(
                Generation(
                    text=text or "",
                    logprobs=[lp for _, lp, _ in tokens],
                    top_logprobs=[top for _, _, top in tokens] if params.top_logprobs else [],
                    finish_reason=choice.get("finish_reason"),
                )
            )
        return GenerateResult(generations, stats)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _send_all(
        self, prompts: Sequence[JudgePrompt], body: dict[str, Any]
    ) -> tuple[list[dict[str, Any] | str], EngineStats]:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            responses = list(pool.map(lambda p: self._send_one(p, body), prompts))
        stats = EngineStats(num_prompts=len(prompts))
        for response in responses:
            if isinstance(response, str):
                continue
            usage = response.get("usage") or {}
            prompt_tokens = usage.get("prompt_tokens", 0)
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            stats.prompt_tokens += prompt_tokens
            stats.cached_tokens += cached
            stats.prefill_tokens += prompt_tokens - cached
            stats.decode_tokens += usage.get("completion_tokens", 0)
        stats.wall_s = time.perf_counter() - start
        return responses, stats

    def _send_one(self, prompt: JudgePrompt, body: dict[str, Any]) -> dict[str, Any] | str:
        """The parsed response, or the error text for this item."""
        try:
            return self._post(self._request(prompt, body))
        except EndpointError as exc:
            return str(exc)

    def _request(self, prompt: JudgePrompt, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        top = body.get("logprobs_top", 0)
        payload = {k: v for k, v in body.items() if k != "logprobs_top"}
        payload["model"] = self.model
        if self.mode == "chat":
            messages = list(prompt.messages or ({"role": "user", "content": prompt.text},))
            payload.update(messages=messages, logprobs=True, top_logprobs=top)
            return "/chat/completions", payload
        payload.update(prompt=prompt.text, logprobs=max(top, 1))
        return "/completions", payload

    def _post(self, request: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        path, payload = request
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.post(path, json=payload)
            except httpx.TransportError as exc:
                if last:
                    raise EndpointError(f"{path}: {type(exc).__name__}: {exc}") from exc
            else:
                if response.status_code == 200:
                    return response.json()
                if response.status_code not in _RETRY_STATUS or last:
                    raise EndpointError(
                        f"{path}: HTTP {response.status_code}: {response.text[:300]}"
                    )
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _tokens(self, response: dict[str, Any]) -> list[tuple[str, float, list[tuple[str, float]]]]:
        """(token, logprob, top alternatives) for each generated position."""
        logprobs = response["choices"][0].get("logprobs") or {}
        if self.mode == "chat":
            return [
                (
                    entry["token"],
                    entry["logprob"],
                    [(alt["token"], alt["logprob"]) for alt in entry.get("top_logprobs") or []],
                )
                for entry in logprobs.get("content") or []
            ]
        tops = logprobs.get("top_logprobs") or []
        return [
            (token, lp, sorted((tops[i] if i < len(tops) else {}).items(), key=lambda kv: -kv[1]))
            for i, (token, lp) in enumerate(
                zip(logprobs.get("tokens") or [], logprobs.get("token_logprobs") or [], strict=True)
            )
        ]


def _continuation_scores(response: dict[str, Any], boundary: int, continuation: str) -> TokenScores:
    """The echoed tokens overlapping ``[boundary, boundary + len(continuation))``."""
    logprobs = response["choices"][0].get("logprobs") or {}
    values = logprobs.get("token_logprobs") or []
    starts = logprobs.get("text_offset") or []
    end = boundary + len(continuation)
    scores = TokenScores()
    if len(values) == len(starts):
        for value, a, b in zip(values, starts, [*starts[1:], end], strict=True):
            if b <= boundary or a >= end or value is None:
                continue
            lo, hi = max(a, boundary) - boundary, min(b, end) - boundary
            scores.tokens.append(continuation[lo:hi])
            scores.logprobs.append(float(value))
            scores.offsets.append((lo, hi))
    covered = sum(hi - lo for lo, hi in scores.offsets) == len(continuation)
    if not covered:
        return TokenScores(
            error="the endpoint echoed no logprobs for the continuation's tokens (score_tokens "
            "needs /completions with echo and logprobs, as a vLLM server offers)"
        )
    return scores


class AmbiguousChoicesError(ValueError):
    """The endpoint's answer cannot tell two choices apart: most of the probability sits on
    tokens that start several of them (their first tokens coincide for the served model)."""


def _choice_scores(top: list[tuple[str, float]], choices: Sequence[str]) -> ChoiceScores:
    """Credit each top token to the one choice it spells (exactly or as its start) and
    normalise over the choices. A token starting several choices (``Cor`` for ``Correct`` /
    ``Corrupt``, ``Correct`` for ``Correct`` / ``Correctly``) is credited to none; when such
    tokens hold at least as much probability as the credited ones, the served model cannot
    tell the choices apart and :class:`AmbiguousChoicesError` says which."""
    mass = dict.fromkeys(choices, 0.0)
    shared: dict[str, float] = {}
    for token, logprob in top:
        text = token.strip()
        if not text:
            continue
        owners = [c for c in choices if c.strip().startswith(text)]
        if len(owners) == 1:
            mass[owners[0]] += math.exp(logprob)
        elif owners:
            shared[text] = shared.get(text, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if shared and sum(shared.values()) >= total:
        token = max(shared, key=shared.__getitem__)
        owners = [c for c in choices if c.strip().startswith(token)]
        raise AmbiguousChoicesError(
            f"choices {owners!r} start with the same token ({token!r}) for the served model, "
            "so its answer cannot tell them apart; reword one"
        )
    if total == 0:
        return ChoiceScores(error=f"none of {list(choices)!r} among the top tokens {top[:5]!r}")
    return ChoiceScores(probs={c: m / total for c, m in mass.items()}, choice_mass=total)
