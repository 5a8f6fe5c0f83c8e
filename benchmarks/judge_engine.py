"""Judge-engine benchmark on HaluEval QA: transformers ``generate`` vs. our generate and scoring.

Each item yields two judge prompts (right and hallucinated answer) sharing one rubric prefix.
(a) transformers ``generate`` on the same GGUF model, left-padded batches (the naive baseline);
(b) ``TorchJudgeEngine.generate``; (c) ``TorchJudgeEngine.score_choices``. Prints items/s,
prefix-cache hit rate, peak RSS, model tokens/s and their share of measured matmul FLOP/s, and
the ratio (c)/(a).

    .venv/bin/python benchmarks/judge_engine.py --items 16 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from haloscope.inference import JudgePrompt, SamplingParams, default_judge_model_path  # noqa: E402
from haloscope.inference.config import EngineConfig  # noqa: E402
from haloscope.inference.engine import TorchJudgeEngine  # noqa: E402
from haloscope.inference.loader import load_model  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "halueval_qa_dev.jsonl"
RUBRIC = """You are a meticulous fact-checking judge for a question-answering system.
You will be given a piece of KNOWLEDGE, a QUESTION and an ANSWER. Decide whether the ANSWER
is a hallucination. An answer is a hallucination when any of the following holds:
1. It states a fact that contradicts the KNOWLEDGE.
2. It states a fact that cannot be verified from the KNOWLEDGE, even if it sounds plausible.
3. It answers a different question than the one asked, or only part of a multi-part question.
4. It names the wrong entity, date, number, place or person, even if closely related.
5. It adds details (dates, numbers, names, qualifiers) that the KNOWLEDGE does not contain.
An answer is NOT a hallucination when every fact it states is supported by the KNOWLEDGE and
it answers the QUESTION that was asked. Short answers are fine; paraphrases are fine; an
answer may omit detail as long as what it says is correct. Ignore style, grammar, politeness
and length. Do not use outside knowledge: judge only against the KNOWLEDGE given. When the
KNOWLEDGE mentions several entities, check that the ANSWER picks the one the QUESTION asks
about. When the QUESTION asks for a comparison (first, older, larger), check the direction.
When the QUESTION asks yes/no, the ANSWER must give the polarity the KNOWLEDGE supports.
Think about each fact in the ANSWER separately, then give one verdict for the whole answer.
Reply with exactly one word: Yes if the ANSWER is a hallucination, No if it is faithful."""


def load_prompts(engine: TorchJudgeEngine, items: int) -> list[JudgePrompt]:
    """Two judge prompts per HaluEval item (right answer, hallucinated answer)."""
    rows = [json.loads(line) for line in DATA.read_text().splitlines()[:items]]
    prompts = []
    for row in rows:
        for answer in (row["right_answer"], row["hallucinated_answer"]):
            item = (
                f"KNOWLEDGE: {row['knowledge']}\nQUESTION: {row['question']}\nANSWER: {answer}\n"
                "Is the ANSWER a hallucination?"
            )
            prompts.append(engine.chat_prompt(RUBRIC, item))
    return prompts


def matmul_flops(seconds: float = 1.0) -> float:
    """Sustained float32 matmul FLOP/s of this machine with torch's current thread count."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return count * 2 * 1024**3 / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def transformers_baseline(
    model: torch.nn.Module,
    engine: TorchJudgeEngine,
    prompts: list[JudgePrompt],
    batch: int,
    new: int,
) -> tuple[float, int]:
    """Seconds and model tokens for left-padded batched ``generate`` over ``prompts``."""
    tok = engine.tokenizer
    pad = min(tok.eos_token_ids)
    tokens = 0
    start = time.perf_counter()
    for i in range(0, len(prompts), batch):
        ids = [
            tok.encode(p.prefix, add_bos=True) + tok.encode(p.suffix)
            for p in prompts[i : i + batch]
        ]
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
        with torch.no_grad():
            model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=new,
                do_sample=False,
                pad_token_id=pad,
            )
        tokens += input_ids.numel() + new * len(ids)
    return time.perf_counter() - start, tokens


def main() -> None:
    """Run the three configurations and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16, help="HaluEval items (2 prompts each)")
    parser.add_argument("--batch", type=int, default=8, help="baseline generate batch size")
    parser.add_argument("--new-tokens", type=int, default=3, help="tokens for a verdict")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the scoring run")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    loaded = load_model(default_judge_model_path())
    engine = TorchJudgeEngine(loaded, EngineConfig(num_threads=args.threads))
    cfg = loaded.config
    layer_params = cfg.num_layers * (
        cfg.hidden_size * (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim
        + cfg.num_heads * cfg.head_dim * cfg.hidden_size
        + 3 * cfg.hidden_size * cfg.intermediate_size
    )
    flops = matmul_flops()
    prompts = load_prompts(engine, args.items)
    n = len(prompts)
    prompt_tokens = sum(len(engine.tokenizer.encode(p.text)) for p in prompts)
    print(f"threads={engine.num_threads} prompts={n} mean prompt tokens={prompt_tokens / n:.0f}")
    print(f"measured matmul: {flops / 1e9:.1f} GFLOP/s (fp32)")

    def report(name: str, seconds: float, tokens: int, extra: str = "") -> float:
        rate = n / seconds
        util = tokens / seconds * 2 * layer_params / flops
        print(
            f"{name:<28} {rate:8.2f} items/s  {tokens / seconds:9.0f} tok/s  "
            f"util {util:6.1%}  peak RSS {peak_rss_mb():6.0f} MiB {extra}"
        )
        return rate

    from transformers import AutoModelForCausalLM

    path = Path(default_judge_model_path())
    reference = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    seconds, tokens = transformers_baseline(
        reference.eval(), engine, prompts, args.batch, args.new_tokens
    )
    baseline = report("(a) transformers generate", seconds, tokens)
    del reference

    gen = engine.generate(prompts, SamplingParams(max_tokens=args.new_tokens))
    s = gen.stats
    report(
        "(b) engine generate",
        s.wall_s,
        s.prefill_tokens + s.decode_tokens,
        f"hit {s.prefix_cache_hit_rate:.0%}",
    )

    runs = []
    for _ in range(args.repeats):  # a fresh engine each time: every run starts with a cold cache
        engine = TorchJudgeEngine(loaded, EngineConfig(num_threads=args.threads))
        runs.append(engine.score_choices(prompts, ["Yes", "No"]))
    median = sorted(runs, key=lambda r: r.stats.wall_s)[len(runs) // 2].stats
    score_rate = report(
        "(c) engine score_choices",
        median.wall_s,
        median.prefill_tokens,
        f"hit {median.prefix_cache_hit_rate:.0%}, median of {args.repeats} cold runs",
    )
    verdicts = [r.best for r in runs[0].scores]
    flagged = sum(v == "Yes" for v in verdicts[1::2]) + sum(v == "No" for v in verdicts[0::2])
    print(f"judge accuracy on these items: {flagged / n:.0%}")
    print(f"ratio (c)/(a): {score_rate / baseline:.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
