"""Decoding request bodies under a size cap: identity, gzip and deflate content encodings.

Decompression is streamed with an output cap, so a small gzip bomb is refused after at most
``max_bytes + 1`` bytes of output instead of being inflated into memory.
"""

from __future__ import annotations

import zlib

from haloscope.platform.ingest.errors import PayloadError

# zlib window bits: 16 + MAX_WBITS reads a gzip wrapper, MAX_WBITS a zlib (deflate) wrapper.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Return the decoded body, raising ``PayloadError`` (400, 413 or 415) when it is unusable."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_bytes:
            raise PayloadError(413, f"request body exceeds {max_bytes} bytes")
        return raw
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise PayloadError(
            415, f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity"
        )
    return _inflate(raw, wbits, encoding, max_bytes)


def _inflate(raw: bytes, wbits: int, encoding: str, max_bytes: int) -> bytes:
    out = bytearray()
    data = raw
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(data, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise PayloadError(400, f"request body is not valid {encoding}: {exc}") from exc
        if len(out) > max_bytes:
            raise PayloadError(413, f"decompressed request body exceeds {max_bytes} bytes")
        if not inflater.eof:
            raise PayloadError(400, f"request body is a truncated {encoding} stream")
        # A gzip body may hold several concatenated members; anything else trailing is garbage.
        data = inflater.unused_data
        if not data:
            return bytes(out)
        if wbits != _WBITS["gzip"]:
            raise PayloadError(400, f"trailing bytes after the {encoding} stream")
