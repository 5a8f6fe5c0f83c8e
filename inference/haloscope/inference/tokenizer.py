"""Tokenizer and chat template, from a ``tokenizer.json`` directory or GGUF metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

_GGUF_CONTROL_TOKEN = 3
_DIGIT_SPLIT_PRE = {"smollm", "starcoder", "refact"}


class TextTokenizer:
    """Encodes text to token ids and back; renders the model's chat template."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        eos_token_ids: Sequence[int],
        bos_token_id: int | None,
        add_bos: bool,
        chat_template: str | None,
    ) -> None:
        self._tokenizer = tokenizer
        self.eos_token_ids = frozenset(eos_token_ids)
        self.bos_token_id = bos_token_id
        self.add_bos = add_bos
        self.chat_template = chat_template
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        """Token ids of ``text``; special tokens written in the text map to their ids."""
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        if add_bos and self.add_bos and self.bos_token_id is not None:
            ids = [self.bos_token_id, *ids]
        return ids

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of ``text`` (no BOS) and each token's ``(start, end)`` character span."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.ids), [tuple(span) for span in encoding.offsets]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of ``ids``."""
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_text(self, token_id: int) -> str:
        """Readable text of one token (byte-level symbols decoded)."""
        return self._tokenizer.decode([token_id], skip_special_tokens=False)

    def apply_chat_template(
        self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """Render ``messages`` with the model's chat template."""
        if not self.chat_template:
            raise ValueError("this model ships no chat template; build prompts as plain text")
        env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
        env.globals["raise_exception"] = _raise_template_error
        template = env.from_string(self.chat_template)
        return template.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=self._special_text(self.bos_token_id),
            eos_token=self._special_text(min(self.eos_token_ids, default=None)),
        )

    def _special_text(self, token_id: int | None) -> str:
        return "" if token_id is None else self.token_text(token_id)


def _raise_template_error(message: str) -> None:
    raise ValueError(f"chat template: {message}")


def tokenizer_from_gguf(meta: dict[str, Any], source: str) -> TextTokenizer:
    """Rebuild a byte-level BPE tokenizer from GGUF ``tokenizer.ggml.*`` metadata."""
    kind = meta.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ValueError(
            f"{source}: GGUF tokenizer model {kind!r} is not supported; supported: gpt2 (BPE)"
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    token_types: list[int] = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    steps = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if meta.get("tokenizer.ggml.pre") in _DIGIT_SPLIT_PRE:
        steps.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tokenizer.decoder = decoders.ByteLevel()
    specials = [
        AddedToken(tok, special=True, normalized=False)
        for tok, kind in zip(tokens, token_types, strict=True)
        if kind == _GGUF_CONTROL_TOKEN
    ]
    tokenizer.add_special_tokens(specials)
    eos = meta.get("tokenizer.ggml.eos_token_id")
    eot = meta.get("tokenizer.ggml.eot_token_id")
    return TextTokenizer(
        tokenizer,
        eos_token_ids=[t for t in (eos, eot) if t is not None],
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
        add_bos=bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        chat_template=meta.get("tokenizer.chat_template"),
    )


def tokenizer_from_dir(model_dir: Path, hf_config: dict[str, Any]) -> TextTokenizer:
    """Load ``tokenizer.json`` (+ ``tokenizer_config.json`` for template and BOS policy)."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no tokenizer.json found next to the weights")
    tokenizer = Tokenizer.from_file(str(path))
    config_path = model_dir / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    eos = hf_config.get("eos_token_id")
    eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    return TextTokenizer(
        tokenizer,
        eos_token_ids=eos_ids,
        bos_token_id=hf_config.get("bos_token_id"),
        add_bos=bool(tok_config.get("add_bos_token", False)),
        chat_template=tok_config.get("chat_template"),
    )
