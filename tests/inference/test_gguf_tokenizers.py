"""Tokenizers rebuilt from GGUF metadata give the token ids of the Hugging Face tokenizer.

Byte-level BPE: one tiny vocabulary (trained here with ``tokenizers`` on the test texts, no
pre-tokenizer split, so that its merges cross the boundaries each pre-tokenizer draws) written
into GGUF once per ``tokenizer.ggml.pre``, compared with the HF tokenizer of that family: GPT-2
and Llama 3 (``llama-bpe``) as transformers' GGUF loader builds them, Qwen2 as transformers'
``Qwen2Tokenizer`` (its split regex and NFC), SmolLM2 (``smollm``) with its ``tokenizer.json``
pre-tokenizer (single digits, then GPT-2's split; transformers' GGUF loader has no ``smollm``
entry and splits as GPT-2). SentencePiece (``llama``): a tiny Llama-2-style vocabulary with
scores and byte fallback, against transformers' GGUF loader. Gemma 3's real vocabulary is
checked in ``test_gemma3_270m_gguf.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from haloscope.inference import UnsupportedModelError
from haloscope.inference.loader import read_gguf_metadata
from haloscope.inference.spm import SentencePieceCodec
from haloscope.inference.tokenizer import TextTokenizer, tokenizer_from_gguf
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import AutoTokenizer

from tests.inference.gguf_export import export_tokenizer_gguf
from tests.inference.tokenizer_data import tokenizer_texts

TEXTS = tokenizer_texts(400) + ["<|im_start|>user\nhi 12345<|im_end|>\n<|endoftext|>"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PRE_TOKENIZERS = ("gpt2", "smollm", "llama-bpe", "qwen2")
SMOLLM2_PRE_TOKENIZER = pre_tokenizers.Sequence(
    [
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ]
)
"""SmolLM2's (and StarCoder's) ``tokenizer.json`` pre-tokenizer."""


def _train(model: models.Model, pre_tokenizer: object, trainer: object) -> dict:
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.train_from_iterator(tokenizer_texts(600, seed=1), trainer)
    return json.loads(tokenizer.to_str())["model"]


@pytest.fixture(scope="module")
def bpe_vocab() -> tuple[list[str], list[str]]:
    """(tokens in id order, merges) of a 800-token byte-level BPE; specials first."""
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=SPECIALS,
        show_progress=False,
    )
    model = _train(
        models.BPE(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False), trainer
    )
    tokens = sorted(model["vocab"], key=model["vocab"].get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, merges


@pytest.fixture(scope="module")
def bpe_files(bpe_vocab, tmp_path_factory) -> dict[str, Path]:
    """The vocabulary as one GGUF per pre-tokenizer name."""
    tokens, merges = bpe_vocab
    types = [3 if token in SPECIALS else 1 for token in tokens]
    folder = tmp_path_factory.mktemp("bpe-gguf")
    return {
        pre: export_tokenizer_gguf(
            folder / f"{pre}.gguf",
            tokens,
            types,
            model="gpt2",
            merges=merges,
            pre=pre,
            special_ids={"bos": 0, "eos": 0},
        )
        for pre in PRE_TOKENIZERS
    }


def _ours(path: Path) -> TextTokenizer:
    return tokenizer_from_gguf(read_gguf_metadata(path), str(path))


def _hf_reference(pre: str, path: Path, bpe_vocab) -> Tokenizer:
    """The HF tokenizer of the family ``pre`` names, with this vocabulary."""
    if pre == "qwen2":
        from transformers import Qwen2Tokenizer

        tokens, merges = bpe_vocab
        vocab = {token: i for i, token in enumerate(tokens)}
        reference = Qwen2Tokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges])
        reference.add_special_tokens({"additional_special_tokens": SPECIALS})
        return reference.backend_tokenizer
    backend = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name).backend_tokenizer
    if pre == "smollm":
        backend.pre_tokenizer = SMOLLM2_PRE_TOKENIZER
    return backend


@pytest.mark.parametrize("pre", PRE_TOKENIZERS)
def test_byte_level_bpe_ids_match_the_hf_tokenizer(pre, bpe_files, bpe_vocab) -> None:
    ours = _ours(bpe_files[pre])
    reference = _hf_reference(pre, bpe_files[pre], bpe_vocab)
    for text in TEXTS:
        expected = reference.encode(text, add_special_tokens=False).ids
        assert ours.encode(text) == expected, text
        assert ours.decode(expected, skip_special_tokens=False) == reference.decode(
            expected, skip_special_tokens=False
        )


def test_end_of_turn_control_tokens_stop_generation(bpe_files) -> None:
    """As llama.cpp: EOS from the metadata, plus control tokens that end a chat turn."""
    tokenizer = _ours(bpe_files["gpt2"])
    assert tokenizer.eos_token_ids == {0, SPECIALS.index("<|im_end|>")}
    assert tokenizer.special_tokens == {"bos_token": SPECIALS[0], "eos_token": SPECIALS[0]}


def test_pre_tokenizers_split_differently(bpe_files) -> None:
    """Each pre-tokenizer changes the ids somewhere, so the comparison above discriminates."""
    tokenizers = {pre: _ours(path) for pre, path in bpe_files.items()}
    ids = {pre: [tokenizer.encode(t) for t in TEXTS] for pre, tokenizer in tokenizers.items()}
    for i, first in enumerate(PRE_TOKENIZERS):
        for second in PRE_TOKENIZERS[i + 1 :]:
            assert ids[first] != ids[second], (first, second)


def test_unknown_pre_tokenizer_and_tokenizer_model_are_named(bpe_vocab, tmp_path) -> None:
    tokens, merges = bpe_vocab
    path = export_tokenizer_gguf(
        tmp_path / "x.gguf", tokens, [1] * len(tokens), model="gpt2", merges=merges, pre="jais"
    )
    with pytest.raises(UnsupportedModelError, match="'jais' is not supported; supported: def"):
        _ours(path)
    path = export_tokenizer_gguf(tmp_path / "y.gguf", ["a"], [1], model="rwkv")
    with pytest.raises(UnsupportedModelError, match="'rwkv' is not supported; supported: gpt2"):
        _ours(path)


@pytest.fixture(scope="module")
def spm_file(tmp_path_factory) -> Path:
    """A Llama-2-style SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then a BPE
    trained on the test texts (spaces as ▁), scored -rank as sentencepiece scores its pieces;
    ``add_space_prefix`` and ``add_bos_token`` left out (llama.cpp's defaults: both on)."""
    trainer = trainers.BpeTrainer(vocab_size=700, show_progress=False)
    metaspace = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    model = _train(models.BPE(), metaspace, trainer)
    learned = sorted(model["vocab"], key=model["vocab"].get)
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256)), *learned]
    types = [2, 3, 3, *[6] * 256, *[1] * len(learned)]
    scores = [0.0] * 259 + [-float(rank) for rank in range(len(learned))]
    return export_tokenizer_gguf(
        tmp_path_factory.mktemp("spm-gguf") / "spm.gguf",
        tokens,
        types,
        model="llama",
        scores=scores,
        special_ids={"unk": 0, "bos": 1, "eos": 2},
    )


def test_sentencepiece_ids_match_the_hf_tokenizer(spm_file) -> None:
    ours = _ours(spm_file)
    reference = AutoTokenizer.from_pretrained(str(spm_file.parent), gguf_file=spm_file.name)
    # transformers' Metaspace adds no ▁ before a leading space (or ▁), and none after a
    # special token; llama.cpp (and sentencepiece itself) does both: those texts are left out.
    texts = [t for t in TEXTS if t and not (t[0].isspace() or t[0] == "▁" or "<" in t)]
    assert len(texts) > 250
    for text in texts:
        expected = reference(text).input_ids  # with BOS
        assert ours.encode(text, add_bos=True) == expected, text
        assert ours.decode(expected) == reference.decode(expected, skip_special_tokens=True)
    assert ours.encode(" x")[:2] == ours.encode("▁▁x")[:2]  # llama.cpp: "▁" + " x"


def test_sentencepiece_offsets_cover_the_text(spm_file) -> None:
    ours = _ours(spm_file)
    for text in TEXTS:
        ids, spans = ours.encode_with_offsets(text)
        assert len(ids) == len(spans)
        distinct = [span for i, span in enumerate(spans) if i == 0 or span != spans[i - 1]]
        assert "".join(text[a:b] for a, b in distinct) == text  # byte tokens share a span


def test_sentencepiece_merges_by_score_leftmost_first() -> None:
    """Highest-scoring pair first, ties to the left; a pair queued before one of its sides was
    merged away is dropped (x a a a: "xa" first, then the last two a's, never the middle one)."""
    tokens = ["<unk>", "x", "a", "xa", "aa", "▁", "▁x", "<s>"]
    scores = [0.0, -9.0, -9.0, -1.0, -2.0, -9.0, -0.5, 0.0]
    codec = SentencePieceCodec(tokens, scores, [2, 1, 1, 1, 1, 1, 1, 3], True, 0)
    assert codec.encode("xaaa")[0] == [6, 4, 2]  # "▁x" (the prefix), then "aa" leftmost, "a"
    codec.add_space_prefix = False
    assert codec.encode("xaaa")[0] == [3, 4]
    assert codec.encode("aaa")[0] == [4, 2]
    assert codec.encode("a<s>x é")[0] == [2, 7, 1, 5, 0]  # é: no byte tokens, so <unk>
