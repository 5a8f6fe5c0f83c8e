"""Tokenizer and chat template, from a ``tokenizer.json`` directory or GGUF metadata.

GGUF ``tokenizer.ggml.model`` ``gpt2``: byte-level BPE (``tokenizers``) with the pre-tokenizer
that ``tokenizer.ggml.pre`` names (:data:`GGUF_PRE_TOKENIZERS`); ``llama``: SentencePiece-style
merges by score (:mod:`haloscope.inference.spm`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from haloscope.inference.chat_template import render_chat_template
from haloscope.inference.config import UnsupportedModelError
from haloscope.inference.spm import SentencePieceCodec
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

_CONTROL, _USER_DEFINED = 3, 4
"""GGUF ``tokenizer.ggml.token_type`` values of control and user-defined tokens."""
GGUF_TOKENIZER_MODELS = ("gpt2", "llama")
"""``tokenizer.ggml.model`` values the engine builds: byte-level BPE, SentencePiece."""
_SPECIAL_TOKEN_KEYS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
}
"""Chat-template variables and the GGUF keys of their token ids."""

Span = tuple[int, int]


class TokenCodec(Protocol):
    """Text to token ids and back: ``tokenizers``, or the SentencePiece codec."""

    vocab_size: int

    def encode(self, text: str) -> tuple[list[int], list[Span]]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str: ...

    def piece(self, token_id: int) -> str: ...


class HFCodec:
    """A ``tokenizers.Tokenizer``; special tokens written in the text map to their ids."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> tuple[list[int], list[Span]]:
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.ids), [tuple(span) for span in encoding.offsets]  # type: ignore[misc]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def piece(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id], skip_special_tokens=False)


class TextTokenizer:
    """Encodes text to token ids and back; renders the model's chat template.

    ``special_tokens`` maps the chat template's ``bos_token``, ``eos_token``... to their text
    (default: the text of ``bos_token_id`` and the first EOS id).
    """

    def __init__(
        self,
        codec: TokenCodec,
        eos_token_ids: Sequence[int],
        bos_token_id: int | None,
        add_bos: bool,
        chat_template: str | None,
        special_tokens: Mapping[str, str] | None = None,
    ) -> None:
        self.codec = codec
        self.eos_token_ids = frozenset(eos_token_ids)
        self.bos_token_id = bos_token_id
        self.add_bos = add_bos
        self.chat_template = chat_template
        self.vocab_size = codec.vocab_size
        if special_tokens is None:
            special_tokens = {"bos_token": self._special_text(bos_token_id)}
            special_tokens["eos_token"] = self._special_text(min(eos_token_ids, default=None))
        self.special_tokens = dict(special_tokens)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        """Token ids of ``text``; special tokens written in the text map to their ids. With
        ``add_bos`` (the text starts a sequence) BOS is put first when the model wants one and
        the text does not already start with it (a chat template may write it)."""
        ids = self.codec.encode(text)[0]
        bos = self.bos_token_id
        if add_bos and self.add_bos and bos is not None and ids[:1] != [bos]:
            ids = [bos, *ids]
        return ids

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[Span]]:
        """Token ids of ``text`` (no BOS) and each token's ``(start, end)`` character span."""
        return self.codec.encode(text)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``."""
        return self.codec.decode(ids, skip_special_tokens)

    def token_text(self, token_id: int) -> str:
        """Readable text of one token (byte-level symbols and ``▁`` decoded)."""
        return self.codec.piece(token_id)

    def apply_chat_template(
        self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the model's chat template, as transformers does."""
        if not self.chat_template:
            raise ValueError("this model ships no chat template; build prompts as plain text")
        return render_chat_template(
            self.chat_template, messages, add_generation_prompt, self.special_tokens
        )

    def _special_text(self, token_id: int | None) -> str:
        return "" if token_id is None else self.token_text(token_id)


def _byte_level(split: str | None, digits: bool = False, nfc: bool = False) -> Callable[[], Any]:
    """A byte-level pre-tokenizer: ``split`` regex (None: GPT-2's, inside ``ByteLevel``),
    optionally single digits first; with ``nfc`` also an NFC normalizer (Qwen2)."""

    def build() -> tuple[Any, Any]:
        if split is None:
            steps = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        else:
            steps = [
                pre_tokenizers.Split(Regex(split), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        if digits:
            steps.insert(0, pre_tokenizers.Digits(individual_digits=True))
        return (normalizers.NFC() if nfc else None), pre_tokenizers.Sequence(steps)

    return build


_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Llama 3's ``tokenizer.json`` split (llama.cpp's ``llama-bpe``)."""
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
"""Qwen2's ``tokenizer.json`` split: as Llama 3's, but one digit per piece."""
_GPT2 = _byte_level(None)
_STARCODER = _byte_level(None, digits=True)
_LLAMA3 = _byte_level(_LLAMA3_SPLIT)
_QWEN2 = _byte_level(_QWEN2_SPLIT, nfc=True)
GGUF_PRE_TOKENIZERS: dict[str, Callable[[], Any]] = {
    "default": _GPT2,
    "gpt2": _GPT2,
    "gpt-2": _GPT2,
    "smollm": _STARCODER,
    "starcoder": _STARCODER,
    "refact": _STARCODER,
    "llama-bpe": _LLAMA3,
    "llama3": _LLAMA3,
    "llama-v3": _LLAMA3,
    "qwen2": _QWEN2,
    "deepseek-r1-qwen": _QWEN2,
}
"""``tokenizer.ggml.pre`` values of byte-level BPE vocabularies and their (normalizer,
pre-tokenizer), as the model's own ``tokenizer.json`` has them. ``default`` (or no key) is
GPT-2's split, as transformers reads it."""


def tokenizer_from_gguf(meta: dict[str, Any], source: str) -> TextTokenizer:
    """Rebuild the tokenizer from GGUF ``tokenizer.ggml.*`` metadata."""
    kind = meta.get("tokenizer.ggml.model")
    if kind == "gpt2":
        codec: TokenCodec = HFCodec(_gguf_byte_level_bpe(meta, source))
    elif kind == "llama":
        count = len(meta["tokenizer.ggml.tokens"])
        codec = SentencePieceCodec(
            meta["tokenizer.ggml.tokens"],
            meta.get("tokenizer.ggml.scores", [0.0] * count),
            meta.get("tokenizer.ggml.token_type", [1] * count),
            add_space_prefix=bool(meta.get("tokenizer.ggml.add_space_prefix", True)),
            unknown_id=meta.get("tokenizer.ggml.unknown_token_id"),
        )
    else:
        raise UnsupportedModelError(
            f"{source}: GGUF tokenizer model (tokenizer.ggml.model) {kind!r} is not supported; "
            f"supported: {', '.join(GGUF_TOKENIZER_MODELS)}"
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    return TextTokenizer(
        codec,
        eos_token_ids=_gguf_end_of_generation(meta),
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
        add_bos=bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama")),
        chat_template=meta.get("tokenizer.chat_template"),
        special_tokens={
            name: tokens[meta[key]] for name, key in _SPECIAL_TOKEN_KEYS.items() if key in meta
        },
    )


_END_OF_TURN_TEXTS = frozenset(
    {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"}
)
"""Control tokens that end generation although the file names only one EOS (llama.cpp's
end-of-generation set): chat models end a turn with them."""


def _gguf_end_of_generation(meta: dict[str, Any]) -> list[int]:
    """EOS, EOT and EOM ids from the metadata, plus the control tokens that end a turn."""
    keys = (f"tokenizer.ggml.{name}_token_id" for name in ("eos", "eot", "eom"))
    ids = [meta[key] for key in keys if key in meta]
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types = meta.get("tokenizer.ggml.token_type", [])
    turns = [i for i, t in enumerate(tokens) if t in _END_OF_TURN_TEXTS and i < len(types)]
    return ids + [i for i in turns if types[i] == _CONTROL]


def _gguf_byte_level_bpe(meta: dict[str, Any], source: str) -> Tokenizer:
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in GGUF_PRE_TOKENIZERS:
        raise UnsupportedModelError(
            f"{source}: GGUF pre-tokenizer (tokenizer.ggml.pre) {pre!r} is not supported; "
            f"supported: {', '.join(GGUF_PRE_TOKENIZERS)}"
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    token_types: list[int] = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    normalizer, tokenizer.pre_tokenizer = GGUF_PRE_TOKENIZERS[pre]()
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    tokenizer.decoder = decoders.ByteLevel()
    typed = list(zip(tokens, token_types, strict=True))
    # Control tokens are special (skipped when decoding), user-defined ones (Qwen's <think>)
    # plain; both are matched whole in the text, as llama.cpp does.
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t, k in typed if k == _CONTROL]
    )
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t, k in typed if k == _USER_DEFINED]
    )
    return tokenizer


def tokenizer_from_dir(model_dir: Path, hf_config: dict[str, Any]) -> TextTokenizer:
    """Load ``tokenizer.json`` (+ ``tokenizer_config.json`` for template, BOS policy and the
    special tokens' text; the template may also be ``chat_template.jinja``)."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no tokenizer.json found next to the weights")
    codec = HFCodec(Tokenizer.from_file(str(path)))
    config_path = model_dir / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    eos = hf_config.get("eos_token_id")
    eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    specials = {
        name: _token_content(tok_config[name])
        for name in _SPECIAL_TOKEN_KEYS
        if tok_config.get(name) is not None
    }
    return TextTokenizer(
        codec,
        eos_token_ids=eos_ids,
        bos_token_id=hf_config.get("bos_token_id"),
        add_bos=bool(tok_config.get("add_bos_token", False)),
        chat_template=_dir_chat_template(model_dir, tok_config),
        special_tokens=specials or None,
    )


def _token_content(value: str | dict[str, Any]) -> str:
    """A special token in ``tokenizer_config.json``: its text, or ``{"content": text, ...}``."""
    return value if isinstance(value, str) else str(value["content"])


def _dir_chat_template(model_dir: Path, tok_config: dict[str, Any]) -> str | None:
    """The default chat template: ``tokenizer_config.json``'s (a string, or named templates),
    else ``chat_template.jinja``, else ``chat_template.json``."""
    template = tok_config.get("chat_template")
    if isinstance(template, list):
        named = {t["name"]: t["template"] for t in template}
        template = named.get("default")
    if template:
        return template
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text()
    json_file = model_dir / "chat_template.json"
    if json_file.is_file():
        return json.loads(json_file.read_text()).get("chat_template")
    return None
