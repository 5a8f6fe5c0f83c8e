"""Request-body decoding under a size cap."""

from __future__ import annotations

import gzip
import zlib

import pytest
from haloscope.platform.ingest.body import decode_body
from haloscope.platform.ingest.errors import PayloadError


def test_identity_and_gzip_and_deflate_round_trip() -> None:
    data = b'{"spans": []}' * 100
    assert decode_body(data, None, 10_000) == data
    assert decode_body(gzip.compress(data), "gzip", 10_000) == data
    assert decode_body(zlib.compress(data), "deflate", 10_000) == data
    assert (
        decode_body(gzip.compress(data[:650]) + gzip.compress(data[650:]), "gzip", 10_000) == data
    )


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(PayloadError) as err:
        decode_body(bomb, "gzip", 1_000_000)
    assert err.value.status_code == 413


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (b"not gzip at all", "gzip", 400),
        (gzip.compress(b"x" * 50)[:-12], "gzip", 400),
        (b"x" * 101, None, 413),
        (b"{}", "br", 415),
        (zlib.compress(b"{}") + b"junk", "deflate", 400),
    ],
    ids=["garbage", "truncated", "too-large", "unknown-encoding", "trailing-bytes"],
)
def test_bad_bodies(body: bytes, encoding: str | None, status: int) -> None:
    with pytest.raises(PayloadError) as err:
        decode_body(body, encoding, 100)
    assert err.value.status_code == status
