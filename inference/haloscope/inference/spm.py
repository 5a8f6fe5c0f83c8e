"""SentencePiece-style tokenizer from GGUF metadata (``tokenizer.ggml.model`` ``llama``), as
llama.cpp's SPM tokenizer runs it: Llama 2, Mistral v0.1, Gemma.

The vocabulary carries a score per token. The text's spaces are written as ``▁``; it is cut
at special tokens (control, user-defined and unknown ones, leftmost-longest, their spaces
written as ``▁`` too: Gemma stores its runs of spaces as user-defined tokens of real spaces);
each plain piece (with one ``▁`` put in front at the start of the text and after a special
token when ``tokenizer.ggml.add_space_prefix`` says so) is split into characters,
and the adjacent pair whose concatenation is the vocabulary token with the highest score is
merged, again and again (ties: the leftmost pair), until no pair forms a token. A character
the vocabulary lacks becomes its UTF-8 bytes as ``<0xNN>`` tokens (byte fallback), or one
unknown token when the vocabulary lacks those byte tokens.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Sequence
from typing import Any

SPACE = "\u2581"
_UNKNOWN, _CONTROL, _USER_DEFINED, _UNUSED, _BYTE = 2, 3, 4, 5, 6
"""GGUF ``tokenizer.ggml.token_type`` values (1 is a normal token)."""
_SPLIT_TYPES = frozenset({_UNKNOWN, _CONTROL, _USER_DEFINED})
"""Token types matched whole in the text before merging (llama.cpp's special-token cache)."""
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")

Span = tuple[int, int]


class SentencePieceCodec:
    """Encode by highest-score merges; decode pieces (``▁`` as space, byte tokens as bytes)."""

    def __init__(
        self,
        tokens: Sequence[str],
        scores: Sequence[float],
        token_types: Sequence[int],
        add_space_prefix: bool,
        unknown_id: int | None,
    ) -> None:
        self._tokens = list(tokens)
        self._scores = [float(s) for s in scores]
        self._types = list(token_types)
        self._ids: dict[str, int] = {}
        for index, token in enumerate(self._tokens):
            self._ids.setdefault(token, index)
        self.vocab_size = len(self._tokens)
        self.add_space_prefix = add_space_prefix
        self._unknown_id = unknown_id
        self._byte_ids = [self._ids.get(f"<0x{b:02X}>") for b in range(256)]
        self._byte_values = {
            i: int(m.group(1), 16)
            for i, (token, kind) in enumerate(zip(self._tokens, self._types, strict=True))
            if kind == _BYTE and (m := _BYTE_TOKEN.fullmatch(token))
        }
        self._specials = _Trie(
            (t.replace(" ", SPACE), i)
            for i, t in enumerate(self._tokens)
            if self._types[i] in _SPLIT_TYPES and t
        )

    def encode(self, text: str) -> tuple[list[int], list[Span]]:
        """Token ids of ``text`` and each token's character span in it."""
        ids: list[int] = []
        spans: list[Span] = []
        escaped = text.replace(" ", SPACE)
        after_special = True
        for start, end, special in self._specials.split(escaped):
            if special is not None:
                ids.append(special)
                spans.append((start, end))
                after_special = True
                continue
            prefix = after_special and self.add_space_prefix
            self._encode_plain(escaped, start, end, prefix, ids, spans)
            after_special = False
        return ids, spans

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        """Text of ``ids``; with a space prefix, the first piece's leading space is dropped."""
        out = bytearray()
        for token_id in ids:
            kind = self._types[token_id]
            if skip_special_tokens and kind in (_CONTROL, _UNKNOWN, _UNUSED):
                continue
            byte = self._byte_values.get(token_id)
            if byte is not None:
                out.append(byte)
            else:
                out += self._tokens[token_id].replace(SPACE, " ").encode()
        text = out.decode("utf-8", errors="replace")
        if self.add_space_prefix and text.startswith(" "):
            text = text[1:]
        return text

    def piece(self, token_id: int) -> str:
        """Readable text of one token (``▁`` as a space, a byte token as its byte)."""
        byte = self._byte_values.get(token_id)
        if byte is not None:
            return bytes([byte]).decode("utf-8", errors="replace")
        return self._tokens[token_id].replace(SPACE, " ")

    def _encode_plain(
        self, text: str, start: int, end: int, prefix: bool, ids: list[int], spans: list[Span]
    ) -> None:
        """Merge ``text[start:end]`` (spaces already ``▁``), with an optional leading ``▁``."""
        chars = list(text[start:end])
        char_spans = [(i, i + 1) for i in range(start, end)]
        if prefix:
            chars.insert(0, SPACE)
            char_spans.insert(0, (start, start))
        for piece, (first, last) in _merge(chars, self._ids, self._scores):
            span = (char_spans[first][0], char_spans[last][1])
            token_id = self._ids.get(piece)
            if token_id is not None:
                ids.append(token_id)
                spans.append(span)
                continue
            for token_id in self._fallback(piece):  # one character the vocabulary lacks
                ids.append(token_id)
                spans.append(span)

    def _fallback(self, char: str) -> list[int]:
        """Byte tokens of ``char``'s UTF-8 bytes, else the unknown token."""
        byte_ids = [self._byte_ids[b] for b in char.encode()]
        if all(token_id is not None for token_id in byte_ids):
            return byte_ids  # type: ignore[return-value]
        if self._unknown_id is None:
            raise ValueError(f"{char!r} is not in the vocabulary, which has no unknown token")
        return [self._unknown_id]


def _merge(
    chars: list[str], ids: dict[str, int], scores: list[float]
) -> list[tuple[str, tuple[int, int]]]:
    """llama.cpp's SPM merge loop over ``chars``: each resulting piece with its first and last
    character index."""
    count = len(chars)
    pieces = list(chars)  # pieces[i]: the piece starting at character i ("" once merged away)
    ends = list(range(count))  # last character index of the piece starting at i
    prev = list(range(-1, count - 1))
    nxt = [*range(1, count), -1]
    queue: list[tuple[float, int, str]] = []

    def push(left: int, right: int) -> None:
        if left >= 0 and right >= 0:
            merged = pieces[left] + pieces[right]
            token_id = ids.get(merged)
            if token_id is not None:
                heapq.heappush(queue, (-scores[token_id], left, merged))

    for i in range(1, count):
        push(i - 1, i)
    while queue:
        _, left, merged = heapq.heappop(queue)
        right = nxt[left]
        if not pieces[left] or right < 0 or pieces[left] + pieces[right] != merged:
            continue  # a side was merged since this pair was queued (pieces only grow)
        pieces[left], pieces[right] = merged, ""
        ends[left], nxt[left] = ends[right], nxt[right]
        if nxt[right] >= 0:
            prev[nxt[right]] = left
        push(prev[left], left)
        push(left, nxt[left])
    return [(p, (i, ends[i])) for i, p in enumerate(pieces) if p]


class _Trie:
    """Special tokens, found leftmost-longest in a text."""

    _END = ""
    """Key of a node's token id: the token ends there (no character is "")."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        self._root: dict[str, Any] = {}
        for token, token_id in entries:
            node = self._root
            for char in token:
                node = node.setdefault(char, {})
            node.setdefault(self._END, token_id)
        firsts = "".join(re.escape(c) for c in self._root)
        self._starts = re.compile(f"[{firsts}]") if firsts else None

    def split(self, text: str) -> list[tuple[int, int, int | None]]:
        """``(start, end, token_id)`` for each special token, ``(start, end, None)`` between."""
        parts: list[tuple[int, int, int | None]] = []
        done = position = 0
        while self._starts is not None:
            found = self._starts.search(text, position)
            if found is None:
                break
            start = found.start()
            match = self._longest(text, start)
            if match is None:
                position = start + 1
                continue
            end, token_id = match
            if start > done:
                parts.append((done, start, None))
            parts.append((start, end, token_id))
            done = position = end
        if done < len(text):
            parts.append((done, len(text), None))
        return parts

    def _longest(self, text: str, start: int) -> tuple[int, int] | None:
        node, best = self._root, None
        for index in range(start, len(text)):
            node = node.get(text[index])
            if node is None:
                break
            if self._END in node:
                best = (index + 1, node[self._END])
        return best
