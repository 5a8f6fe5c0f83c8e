"""``TorchJudgeEngine``: the embedded paged-attention judge engine (CPU, or CUDA when present)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import torch
from haloscope.inference.attention import SequenceChunk, build_attention_batch
from haloscope.inference.block_manager import BlockManager
from haloscope.inference.config import EngineConfig, configure_threads, resolve_device
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
    split_chat_prompt,
)
from haloscope.inference.kv_cache import KVCache
from haloscope.inference.loader import LoadedModel, load_model
from haloscope.inference.model import LlamaModel
from haloscope.inference.sampling import ChoiceConstraint, SamplingParams, select_tokens
from haloscope.inference.scheduler import ScheduledStep, Scheduler
from haloscope.inference.sequence import Sequence as Seq


class TorchJudgeEngine(JudgeEngine):
    """Runs a Llama-family judge with a paged KV cache, prefix caching and continuous batching.

    Safe to call from several threads: calls take turns on the one scheduler and KV cache (each
    call is batched internally, so concurrent callers lose no throughput by waiting).
    """

    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        config = config or EngineConfig()
        self.config = replace(config, device=resolve_device(config.device))
        self.num_threads = configure_threads(config.num_threads)
        self.tokenizer = loaded.tokenizer
        self.model_config = loaded.config
        self.source = loaded.source
        self.model = LlamaModel(loaded.config, loaded.weights, self.config.device, config.dtype)
        self._window = loaded.config.masked_window
        self.cache = KVCache(
            loaded.config,
            config.kv_cache_bytes,
            config.block_size,
            config.dtype,
            self.config.device,
        )
        self.blocks = BlockManager(
            self.cache.num_blocks, config.block_size, config.enable_prefix_caching
        )
        self.scheduler = Scheduler(self.blocks, config.max_num_seqs, config.max_num_batched_tokens)
        self.max_model_len = min(
            config.max_model_len or loaded.config.context_length,
            loaded.config.context_length,
        )
        self._busy = threading.Lock()
        self._hidden_layer: int | None = None  # set for the duration of a call that asks

    @classmethod
    def from_path(cls, model: str, **options: object) -> TorchJudgeEngine:
        """Load ``model`` (GGUF file or safetensors dir); ``options`` are EngineConfig fields."""
        return cls(load_model(model), EngineConfig(**options))  # type: ignore[arg-type]

    def chat_prompt(self, rubric: str, item: str) -> JudgePrompt:
        """Rubric as system turn, item as user turn, rendered with the model's chat template."""
        return split_chat_prompt(self.tokenizer.apply_chat_template, rubric, item)

    def score_choices(
        self,
        prompts: Sequence[JudgePrompt],
        choices: Sequence[str],
        hidden_layer: int | None = None,
    ) -> ScoreResult:
        """Next-token probabilities of each choice's first token, normalised over the choices;
        with ``hidden_layer``, also each prompt's last-token residual stream after that many
        decoder layers (``ChoiceScores.hidden``), from the same forward pass."""
        choice_ids = self._first_tokens(choices)
        with self._busy:
            seqs, errors = self._make_sequences(prompts, SamplingParams(max_tokens=1), choice_ids)
            self._hidden_layer = hidden_layer
            try:
                stats = self._run(seqs, len(prompts))
            finally:
                self._hidden_layer = None
        scores = [ChoiceScores(error=error) for error in errors]
        for seq in seqs:
            logprobs = torch.tensor(seq.score_logprobs)
            probs = torch.softmax(logprobs, dim=0).tolist()
            scores[seq.index] = ChoiceScores(
                probs=dict(zip(choices, probs, strict=True)),
                choice_mass=float(logprobs.exp().sum()),
                hidden=seq.hidden,
            )
        return ScoreResult(scores, stats)

    def score_tokens(
        self, prompts: Sequence[JudgePrompt], continuations: Sequence[str]
    ) -> TokenScoreResult:
        """Log-probability of each continuation token, all read from one prefill per item.

        The prompts' shared prefix comes from the prefix cache; the block holding the token
        before the continuation is always computed, so every logprob is read from this pass.
        """
        if len(prompts) != len(continuations):
            raise ValueError(
                f"{len(prompts)} prompts but {len(continuations)} continuations; pair them up"
            )
        encoded = [self.tokenizer.encode_with_offsets(text) for text in continuations]
        with self._busy:
            seqs, errors = self._make_sequences(
                prompts, SamplingParams(max_tokens=1), None, [ids for ids, _ in encoded]
            )
            stats = self._run(seqs, len(prompts))
        scores = [TokenScores(error=error) for error in errors]
        for seq in seqs:
            ids, offsets = encoded[seq.index]
            scores[seq.index] = TokenScores(
                tokens=[self.tokenizer.token_text(t) for t in ids],
                logprobs=list(seq.token_logprobs),
                offsets=offsets,
            )
        return TokenScoreResult(scores, stats)

    def generate(self, prompts: Sequence[JudgePrompt], params: SamplingParams) -> GenerateResult:
        """Decode each prompt with ``params``; returns texts, token ids and their logprobs."""
        with self._busy:
            seqs, errors = self._make_sequences(prompts, params, None)
            stats = self._run(seqs, len(prompts))
        generations = [Generation(error=error) for error in errors]
        for seq in seqs:
            text = self.tokenizer.decode(seq.output_token_ids)
            if seq.stop_text is not None:
                text = text[: text.index(seq.stop_text)]
            generations[seq.index] = Generation(
                text=text,
                token_ids=seq.output_token_ids,
                logprobs=seq.output_logprobs,
                top_logprobs=[
                    [(self.tokenizer.token_text(t), lp) for t, lp in top]
                    for top in seq.output_top_logprobs
                ],
                finish_reason=seq.finish_reason,
            )
        return GenerateResult(generations, stats)

    @torch.inference_mode()
    def prompt_logits(self, token_ids: Sequence[int]) -> torch.Tensor:
        """Logits at every position of ``token_ids`` ([n, vocab]) through the paged path."""
        seq = Seq(list(token_ids), SamplingParams(max_tokens=1), score_token_ids=())
        with self._busy:
            if not self.blocks.allocate(seq, use_prefix_cache=False):
                raise ValueError(f"{len(token_ids)} tokens do not fit in the KV cache")
            try:
                chunk = SequenceChunk(seq.num_computed_tokens, seq.num_uncomputed, seq.block_table)
                batch = build_attention_batch(
                    [chunk], self.blocks.block_size, self.config.device, self._window
                )
                ids = torch.tensor(seq.token_ids[chunk.start :], device=self.config.device)
                rows = torch.arange(chunk.num_new, device=self.config.device)
                return self.model.forward(ids, batch, self.cache, rows).float().cpu()
            finally:
                self.blocks.free(seq)

    def _first_tokens(self, choices: Sequence[str]) -> tuple[int, ...]:
        if not choices:
            raise ValueError("choices must not be empty")
        firsts = []
        for choice in choices:
            ids = self.tokenizer.encode(choice)
            if not ids:
                raise ValueError(f"choice {choice!r} tokenizes to nothing")
            firsts.append(ids[0])
        if len(set(firsts)) != len(firsts):
            raise ValueError(f"choices {list(choices)!r} share a first token; make them distinct")
        return tuple(firsts)

    def _make_sequences(
        self,
        prompts: Sequence[JudgePrompt],
        params: SamplingParams,
        score_token_ids: tuple[int, ...] | None,
        continuations: Sequence[list[int]] | None = None,
    ) -> tuple[list[Seq], list[str | None]]:
        """One sequence per valid prompt; ``errors[i]`` explains each prompt that was refused.

        With ``continuations`` (token ids per prompt) each sequence scores its continuation."""
        pool_tokens = self.blocks.num_blocks * self.blocks.block_size
        limit = min(self.max_model_len, pool_tokens)
        choice_ids = [self.tokenizer.encode(c) for c in params.choices] if params.choices else None
        prefix_ids: dict[str, list[int]] = {}
        seqs: list[Seq] = []
        errors: list[str | None] = []
        for index, prompt in enumerate(prompts):
            if prompt.prefix not in prefix_ids:
                prefix_ids[prompt.prefix] = self.tokenizer.encode(prompt.prefix, add_bos=True)
            ids = prefix_ids[prompt.prefix] + self.tokenizer.encode(prompt.suffix)
            continuation = continuations[index] if continuations is not None else []
            total = len(ids) + len(continuation)
            error = None
            if not ids:
                error = "empty prompt"
            elif continuations is not None and not continuation:
                error = "empty continuation"
            elif total >= limit:
                error = (
                    f"prompt has {total} tokens; the limit is {limit - 1} "
                    f"(context window {self.max_model_len}, KV cache {pool_tokens} tokens)"
                )
            errors.append(error)
            if error is not None:
                continue
            seq = Seq(ids + continuation, params, index, score_token_ids)
            if continuations is not None:
                seq.score_from = len(ids)
                seq.token_logprobs = [float("nan")] * len(continuation)
            seq.max_len = min(len(ids) + params.max_tokens, limit)
            if choice_ids is not None:
                seq.constraint = ChoiceConstraint(choice_ids)
            seqs.append(seq)
        return seqs, errors

    def _run(self, seqs: list[Seq], num_prompts: int) -> EngineStats:
        """Run ``seqs`` to completion; prompts sharing a prefix are queued next to each other."""
        start = time.perf_counter()
        stats = EngineStats(num_prompts=num_prompts, kv_blocks_total=self.blocks.num_blocks)
        stats.kv_blocks_used_peak = self.blocks.num_used
        generators = self._generators(seqs)
        self._run_batch(sorted(seqs, key=lambda seq: seq.token_ids), stats, generators)
        stats.kv_blocks_free = self.blocks.num_free
        stats.wall_s = time.perf_counter() - start
        return stats

    def _generators(self, seqs: list[Seq]) -> dict[int, torch.Generator]:
        generators = {}
        for seq in seqs:
            if seq.params.seed is not None and seq.params.temperature > 0:
                generator = torch.Generator(device=self.config.device)
                generator.manual_seed(seq.params.seed + seq.index)
                generators[seq.seq_id] = generator
        return generators

    def _run_batch(
        self, seqs: list[Seq], stats: EngineStats, generators: dict[int, torch.Generator]
    ) -> None:
        for seq in seqs:
            self.scheduler.add(seq)
        while self.scheduler.has_work:
            step = self.scheduler.schedule()
            if not step.seqs:
                raise RuntimeError("scheduler made no progress; the KV cache is too small")
            stats.preemptions += step.num_preempted
            stats.steps += 1
            self._execute(step, stats, generators)

    def _execute(
        self, step: ScheduledStep, stats: EngineStats, generators: dict[int, torch.Generator]
    ) -> None:
        device = self.config.device
        # Continuation scoring reads logits at many rows: then every layer computes every row
        # and the read rows are picked at the end, instead of the last-layer-only fast path.
        reads_rows = any(seq.score_from is not None for seq in step.seqs)
        chunks, token_ids, sampled, scored = [], [], [], []
        score_rows: list[int] = []
        last_rows: list[int] = []
        for seq, n in zip(step.seqs, step.num_new, strict=True):
            start = seq.num_computed_tokens
            if start == seq.num_cached_tokens:  # first chunk since (re)admission
                stats.prompt_tokens += len(seq.token_ids)
                stats.cached_tokens += seq.num_cached_tokens
            completes = start + n == len(seq.token_ids)
            row = len(token_ids)
            chunks.append(
                SequenceChunk(start, n, seq.block_table, needs_logits=completes and not reads_rows)
            )
            token_ids.extend(seq.token_ids[start : start + n])
            if seq.is_decoding:
                stats.decode_tokens += 1
            else:
                stats.prefill_tokens += n
            if seq.score_from is not None:
                first = max(start, seq.score_from - 1)
                last = min(start + n, len(seq.token_ids) - 1)  # positions predicting a token
                scored.append((seq, first, last - first, completes))
                score_rows.extend(range(row + first - start, row + last - start))
            elif completes:
                sampled.append(seq)
                last_rows.append(row + n - 1)
        batch = build_attention_batch(chunks, self.blocks.block_size, device, self._window)
        ids = torch.tensor(token_ids, device=device)
        rows = None
        if reads_rows:
            rows = torch.tensor(score_rows + last_rows, dtype=torch.long, device=device)
        hidden = None
        if self._hidden_layer is None:
            logits = self.model.forward(ids, batch, self.cache, rows)
        else:
            logits, hidden = self.model.forward(ids, batch, self.cache, rows, self._hidden_layer)
        if reads_rows:
            self._record_token_logprobs(scored, logits[: len(score_rows)])
            logits = logits[len(score_rows) :]
            hidden = hidden[len(score_rows) :] if hidden is not None else None
        for seq, n in zip(step.seqs, step.num_new, strict=True):
            seq.num_computed_tokens += n
            self.blocks.register_computed(seq)
        stats.kv_blocks_used_peak = max(stats.kv_blocks_used_peak or 0, self.blocks.num_used)
        for seq, _, _, completes in scored:
            if completes:
                seq.finish_reason = "scored"
                self.scheduler.finish(seq)
        self._consume_logits(sampled, logits, generators, hidden)

    @staticmethod
    def _record_token_logprobs(
        scored: list[tuple[Seq, int, int, bool]], logits: torch.Tensor
    ) -> None:
        """Store the log-probability of the token after each read position (a preempted and
        recomputed sequence overwrites the same entries)."""
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        offset = 0
        for seq, first, count, _ in scored:
            targets = torch.tensor(seq.token_ids[first + 1 : first + 1 + count])
            rows = logprobs[offset : offset + count].cpu()
            values = rows.gather(1, targets[:, None])[:, 0].tolist()
            begin = first + 1 - seq.score_from
            seq.token_logprobs[begin : begin + count] = values
            offset += count

    def _consume_logits(
        self,
        seqs: list[Seq],
        logits: torch.Tensor,
        generators: dict[int, torch.Generator],
        hidden: torch.Tensor | None = None,
    ) -> None:
        scoring = [i for i, s in enumerate(seqs) if s.score_token_ids is not None]
        if scoring:
            logprobs = torch.log_softmax(logits[scoring].float(), dim=-1)
            for row, i in zip(logprobs, scoring, strict=True):
                seqs[i].score_logprobs = row[list(seqs[i].score_token_ids)].tolist()
                if hidden is not None:
                    seqs[i].hidden = hidden[i].cpu().numpy()
                seqs[i].finish_reason = "scored"
                self.scheduler.finish(seqs[i])
        decoding = [i for i, s in enumerate(seqs) if s.score_token_ids is None]
        if not decoding:
            return
        group = [seqs[i] for i in decoding]
        chosen, logprobs = select_tokens(
            logits[decoding],
            [s.params for s in group],
            [generators.get(s.seq_id) for s in group],
            [s.constraint.allowed_tokens() if s.constraint else None for s in group],
        )
        for seq, token, row in zip(group, chosen, logprobs, strict=True):
            seq.token_ids.append(token)
            seq.output_logprobs.append(float(row[token]))
            if seq.params.top_logprobs:
                top = torch.topk(row, seq.params.top_logprobs)
                seq.output_top_logprobs.append(
                    list(zip(top.indices.tolist(), top.values.tolist(), strict=True))
                )
            seq.finish_reason = self._finish_reason(seq, token)
            if seq.finish_reason is not None:
                self.scheduler.finish(seq)

    def _finish_reason(self, seq: Seq, token: int) -> str | None:
        if seq.constraint is not None:
            if seq.constraint.advance(token):
                return "stop"
        elif token in self.tokenizer.eos_token_ids:
            return "stop"
        if seq.params.stop:
            text = self.tokenizer.decode(seq.output_token_ids)
            hits = [s for s in seq.params.stop if s in text]
            if hits:
                seq.stop_text = min(hits, key=text.index)
                return "stop"
        if len(seq.output_token_ids) >= seq.params.max_tokens or len(seq.token_ids) >= seq.max_len:
            return "length"
        return None
