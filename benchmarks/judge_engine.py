"""Judge-engine benchmark on HaluEval QA: transformers ``generate`` vs. our generate and scoring.

Each item yields two judge prompts (right and hallucinated answer) sharing one rubric prefix.
(a) transformers ``generate`` on the same GGUF model, left-padded batches (the naive baseline);
(b) ``TorchJudgeEngine.generate``; (c) ``TorchJudgeEngine.score_choices``. Prints items/s
(an item is two prompts), prefix-cache hit rate, peak RSS (engine alone, then with the
transformers model), model tokens/s and their share of measured matmul FLOP/s, the thread
count and load average, and the ratio (c)/(a). All three run on ``--device`` in ``--dtype``.

    .venv/bin/python benchmarks/judge_engine.py --items 16 --threads 1
    python benchmarks/judge_engine.py --device cuda --dtype bfloat16
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
from haloscope.inference.config import EngineConfig, resolve_device  # noqa: E402
from haloscope.inference.engine import TorchJudgeEngine  # noqa: E402
from haloscope.inference.interface import EngineStats, ScoreResult  # noqa: E402
from haloscope.inference.loader import LoadedModel, load_model  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "halueval" / "qa_dev.jsonl"
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


def load_prompts(engine: TorchJudgeEngine, items: int, data: Path) -> list[JudgePrompt]:
    """Two judge prompts per HaluEval item (right answer, hallucinated answer)."""
    rows = [json.loads(line) for line in data.read_text().splitlines()[:items]]
    prompts = []
    for row in rows:
        for answer in (row["right_answer"], row["hallucinated_answer"]):
            item = (
                f"KNOWLEDGE: {row['knowledge']}\nQUESTION: {row['question']}\nANSWER: {answer}\n"
                "Is the ANSWER a hallucination?"
            )
            prompts.append(engine.chat_prompt(RUBRIC, item))
    return prompts


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; the CPU needs nothing)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def matmul_flops(
    device: str, dtype: torch.dtype, size: int, windows: int = 6, seconds: float = 0.25
) -> float:
    """Matmul FLOP/s of this device in ``dtype`` (with torch's current thread count on the CPU):
    the best of several short windows, since other jobs on a shared machine only ever slow one
    down."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = 0.0
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            count += 1
        sync(device)
        best = max(best, count * 2 * size**3 / (time.perf_counter() - start))
    return best


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def transformers_baseline(
    model: torch.nn.Module,
    engine: TorchJudgeEngine,
    prompts: list[JudgePrompt],
    batch: int,
    new: int,
    device: str,
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
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
        with torch.no_grad():
            model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=new,
                do_sample=False,
                pad_token_id=pad,
            )
        tokens += input_ids.numel() + new * len(ids)
    sync(device)
    return time.perf_counter() - start, tokens


def score_runs(
    loaded: LoadedModel, prompts: list[JudgePrompt], config: EngineConfig, repeats: int
) -> tuple[ScoreResult, EngineStats, float]:
    """Cold-cache ``score_choices`` runs, a fresh engine each: the first result, the median
    stats and the median CPU seconds of this process."""
    runs, cpu = [], []
    for _ in range(repeats):
        engine = TorchJudgeEngine(loaded, config)
        start = time.process_time()
        runs.append(engine.score_choices(prompts, ["Yes", "No"]))
        cpu.append(time.process_time() - start)
        del engine  # before the next one is built: peak RSS counts one scoring engine
    median = sorted(runs, key=lambda r: r.stats.wall_s)[len(runs) // 2].stats
    return runs[0], median, sorted(cpu)[len(cpu) // 2]


def main() -> None:
    """Run the configurations and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16, help="HaluEval items (2 prompts each)")
    parser.add_argument("--batch", type=int, default=8, help="baseline generate batch size")
    parser.add_argument("--new-tokens", type=int, default=3, help="tokens for a verdict")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each scoring run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for all runs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    parser.add_argument("--kv-cache-mib", type=int, default=None, help="engine KV cache budget")
    parser.add_argument("--data", type=Path, default=DATA, help="HaluEval QA jsonl file")
    parser.add_argument("--scores-out", type=Path, help="write (c)'s P(Yes) per prompt as JSON")
    args = parser.parse_args()

    device = resolve_device(args.device)
    options = {} if args.kv_cache_mib is None else {"kv_cache_bytes": args.kv_cache_mib << 20}
    config = EngineConfig(num_threads=args.threads, device=device, dtype=args.dtype, **options)
    dtype = config.dtype
    loaded = load_model(default_judge_model_path())
    engine = TorchJudgeEngine(loaded, config)
    cfg = loaded.config
    layer_params = cfg.num_layers * (
        cfg.hidden_size * (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim
        + cfg.num_heads * cfg.head_dim * cfg.hidden_size
        + 3 * cfg.hidden_size * cfg.intermediate_size
    )
    on_cpu = device == "cpu"
    matmul_size = 1024 if on_cpu else 4096
    flops = matmul_flops(device, dtype, matmul_size)
    prompts = load_prompts(engine, args.items, args.data)
    n = len(prompts)
    prompt_tokens = sum(len(engine.tokenizer.encode(p.text)) for p in prompts)
    print(
        f"threads={engine.num_threads} (all runs) items={args.items} prompts={n} "
        f"mean prompt tokens={prompt_tokens / n:.0f} load average={os.getloadavg()[0]:.2f}"
    )
    name = "CPU" if on_cpu else torch.cuda.get_device_name(device)
    print(
        f"device={device} ({name}) dtype={str(dtype).removeprefix('torch.')} "
        f"KV cache={engine.cache.nbytes / 2**20:.0f} MiB ({engine.cache.num_blocks} blocks)"
    )
    print(f"measured matmul: {flops / 1e9:.1f} GFLOP/s ({matmul_size}x{matmul_size})")
    print("utilisation = model tokens/s x 2 x linear-layer params / measured matmul FLOP/s")

    def report(name: str, seconds: float, cpu: float, tokens: int, extra: str = "") -> float:
        rate = args.items / seconds
        util = tokens / seconds * 2 * layer_params / flops
        print(
            f"{name:<26} {rate:5.2f} items/s {n / seconds:5.2f} prompts/s "
            f"{tokens / seconds:4.0f} tok/s util {util:4.0%} wall {seconds:5.1f}s "
            f"CPU {cpu:5.1f}s  {extra}"
        )
        return rate

    if not on_cpu:  # CUDA's first calls load kernels and make cuBLAS handles; time none of that
        warm = TorchJudgeEngine(loaded, config)
        warm.generate(prompts[:2], SamplingParams(max_tokens=args.new_tokens))
        warm.score_choices(prompts[:2], ["Yes", "No"])
        del warm
    cpu_start = time.process_time()
    gen = engine.generate(prompts, SamplingParams(max_tokens=args.new_tokens))
    s = gen.stats
    report(
        "(b) engine generate",
        s.wall_s,
        time.process_time() - cpu_start,
        s.prefill_tokens + s.decode_tokens,
        f"hit {s.prefix_cache_hit_rate:.0%}",
    )
    exact, median, score_cpu = score_runs(loaded, prompts, config, args.repeats)
    score_rate = report(
        "(c) engine score_choices",
        median.wall_s,
        score_cpu,
        median.prefill_tokens,
        f"hit {median.prefix_cache_hit_rate:.0%}, medians of {args.repeats} cold runs",
    )
    print(f"peak RSS, our engine only: {peak_rss_mb():.0f} MiB")

    from transformers import AutoModelForCausalLM

    path = Path(default_judge_model_path())
    reference = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=dtype
    )
    reference = reference.to(device).eval()
    if not on_cpu:
        transformers_baseline(reference, engine, prompts[:2], 2, args.new_tokens, device)
    cpu_start = time.process_time()
    seconds, tokens = transformers_baseline(
        reference, engine, prompts, args.batch, args.new_tokens, device
    )
    baseline_cpu = time.process_time() - cpu_start
    baseline = report(
        "(a) transformers generate", seconds, baseline_cpu, tokens, f"batches of {args.batch}"
    )
    print(f"peak RSS, with the transformers model: {peak_rss_mb():.0f} MiB")
    if not on_cpu:
        print(
            f"peak GPU memory allocated: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
        )
    if args.scores_out is not None:
        args.scores_out.write_text(json.dumps([r.probs["Yes"] for r in exact.scores]))
    verdicts = [r.best for r in exact.scores]
    flagged = sum(v == "Yes" for v in verdicts[1::2]) + sum(v == "No" for v in verdicts[0::2])
    print(f"judge accuracy on these items: {flagged / n:.0%}")
    print(
        f"ratio (c)/(a): {score_rate / baseline:.1f}x wall clock, "
        f"{baseline_cpu / score_cpu:.1f}x CPU time (less sensitive to other jobs; target >= 10x)"
    )
    print(f"load average after the runs: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
