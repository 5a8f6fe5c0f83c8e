"""A ClickHouse HTTP-protocol endpoint backed by chDB (test support, not a production server).

A ClickHouse server cannot be installed on the test machines, so the ``clickhouse`` driver is
tested with the real clickhouse-connect client against this endpoint, which runs every request
on ClickHouse's own engine embedded through chDB. It implements the part of ClickHouse's HTTP
interface that clickhouse-connect uses:

* ``GET /ping``; queries by GET or POST from the ``query`` URL parameter and/or the body
  (``multipart/form-data`` bodies too, which clickhouse-connect sends for long bindings);
* ``param_<name>`` bindings, passed verbatim to chDB (the same escaped-text semantics as the
  server); ``database``; ``default_format`` and trailing ``FORMAT`` clauses (Native included);
* ``INSERT ... FORMAT <fmt>`` with the data in the body, streamed with ``Session.send_insert``;
* other URL parameters applied as query settings (``SET``), except the HTTP-only ones;
* ``Content-Encoding`` gzip/deflate/lz4/zstd request bodies, and response compression when
  ``enable_http_compression=1`` and the client accepts one of those encodings;
* ``X-ClickHouse-*`` response headers, and errors as HTTP 500 with ClickHouse's
  ``Code: N. DB::Exception: ...`` text and ``X-ClickHouse-Exception-Code``.

Each request runs in its own chDB session on the data path (settings and ``USE`` do not leak
between requests), serialised by a lock; HTTP ``session_id`` is accepted and ignored. There is
no authentication. Run it as ``python -m tests.support.chdb_http_endpoint --port P --path DIR``
(a subprocess: one process can hold chDB open on one data path only).
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import gzip
import re
import threading
import uuid
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import chdb.session
import lz4.frame
import orjson
from backports import zstd

SERVER_NAME = "chdb-http-endpoint"
DEFAULT_FORMAT = "TabSeparated"

# URL parameters that steer the HTTP exchange rather than the query: never applied as settings.
HTTP_ONLY_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "wait_end_of_query",
        "buffer_size",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",
        "cancel_http_readonly_queries_on_client_close",
    }
)

DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "lz4": lz4.frame.decompress,
    "zstd": zstd.decompress,
}
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "lz4": lz4.frame.compress,
    "zstd": zstd.compress,
}

_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INSERT_WITH_FORMAT = re.compile(
    rb"\A\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)[ \t]*\r?\n?", re.I | re.S
)
_TRAILING_FORMAT = re.compile(r"\sFORMAT\s+(\w+)\s*;?\s*\Z", re.I)
_ERROR_CODE = re.compile(r"Code: (\d+)\.")
_QUOTED = str.maketrans({"\\": "\\\\", "'": "\\'"})


class ClickHouseHTTPError(Exception):
    """A failed request, carried to the response as ClickHouse reports it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_engine(cls, exc: Exception) -> ClickHouseHTTPError:
        """Wrap a chDB exception, keeping ClickHouse's error code from its text."""
        message = str(exc)
        found = _ERROR_CODE.search(message)
        return cls(message, int(found.group(1)) if found else 1001)


class Request:
    """One HTTP request in ClickHouse's terms: URL/form parameters and the body."""

    def __init__(self, params: dict[str, str], body: bytes) -> None:
        self.params = params
        self.body = body

    @classmethod
    def parse(cls, path: str, headers: dict[str, str], body: bytes) -> Request:
        """Decode parameters, body compression and multipart form fields."""
        params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            if encoding not in DECOMPRESSORS:
                raise ClickHouseHTTPError(f"Code: 48. Unsupported Content-Encoding {encoding}", 48)
            body = DECOMPRESSORS[encoding](body)
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            params.update(_form_fields(content_type, body))
            body = b""
        return cls(params, body)

    def statement(self) -> bytes:
        """The query text: the ``query`` parameter followed by the body, as the server joins
        them."""
        url_query = self.params.get("query", "").encode()
        if url_query and self.body:
            return url_query + b"\n" + self.body
        return url_query or self.body

    def bindings(self) -> dict[str, str]:
        """``param_<name>`` values by name."""
        return {k[len("param_") :]: v for k, v in self.params.items() if k.startswith("param_")}

    def settings(self) -> dict[str, str]:
        """The parameters that are query settings."""
        return {
            k: v
            for k, v in self.params.items()
            if k not in HTTP_ONLY_PARAMS and not k.startswith("param_")
        }


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True).decode()
    return fields


class ChdbHTTPEndpoint:
    """Executes requests on chDB at ``path``; one embedded engine, one request at a time."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._owner = chdb.session.Session(self.path)  # keeps the engine up between requests
        self.timezone = self._owner.query("SELECT timezone()", "TabSeparated").bytes().decode()
        self.timezone = self.timezone.strip()

    def execute(self, request: Request) -> tuple[bytes, str, dict[str, str]]:
        """Run the request; return (body, output format, summary)."""
        statement = request.statement()
        if not statement.strip():
            raise ClickHouseHTTPError("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)", 62)
        with self._lock:
            session = chdb.session.Session(self.path)
            try:
                self._prepare(session, request)
                insert = _INSERT_WITH_FORMAT.match(statement)
                if insert:
                    return self._insert(session, insert, statement)
                return self._query(session, request, statement.decode())
            except ClickHouseHTTPError:
                raise
            except Exception as exc:
                raise ClickHouseHTTPError.from_engine(exc) from exc
            finally:
                session.close()

    @staticmethod
    def _prepare(session: chdb.session.Session, request: Request) -> None:
        database = request.params.get("database")
        if database:
            session.query(f"USE `{database.replace('`', '``')}`")
        for name, value in request.settings().items():
            if not _SETTING_NAME.fullmatch(name):
                raise ClickHouseHTTPError(
                    f"Code: 115. DB::Exception: Unknown setting {name!r}. (UNKNOWN_SETTING)", 115
                )
            session.query(f"SET {name} = '{value.translate(_QUOTED)}'")

    @staticmethod
    def _insert(
        session: chdb.session.Session, insert: re.Match[bytes], statement: bytes
    ) -> tuple[bytes, str, dict[str, str]]:
        fmt = insert.group(2).decode()
        inserter = session.send_insert(insert.group(1).decode(), fmt)
        data = statement[insert.end() :]
        if data:
            inserter.append(data)
        result = inserter.finish()
        summary = {
            "written_rows": str(result.rows_written),
            "written_bytes": str(result.bytes_written),
            "elapsed_ns": str(int(result.elapsed * 1e9)),
        }
        return b"", fmt, summary

    @staticmethod
    def _query(
        session: chdb.session.Session, request: Request, sql: str
    ) -> tuple[bytes, str, dict[str, str]]:
        trailing = _TRAILING_FORMAT.search(sql)
        fmt = (
            trailing.group(1) if trailing else request.params.get("default_format", DEFAULT_FORMAT)
        )
        result = session.query(sql, fmt, params=request.bindings())
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }
        return result.bytes(), fmt, summary

    def close(self) -> None:
        """Close the engine-owning session."""
        self._owner.close()


def _handler(endpoint: ChdbHTTPEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = SERVER_NAME

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if urlsplit(self.path).path.rstrip("/") in {"", "/ping"} and "query=" not in self.path:
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            else:
                self._handle(b"")

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self._handle(self._read_chunked())
            else:
                self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _read_chunked(self) -> bytes:
            """The body of a ``Transfer-Encoding: chunked`` request (streamed inserts)."""
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailer headers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk

        def _handle(self, body: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            query_id = str(uuid.uuid4())
            try:
                request = Request.parse(self.path, headers, body)
                query_id = request.params.get("query_id") or query_id
                payload, fmt, summary = endpoint.execute(request)
            except ClickHouseHTTPError as exc:
                self._send(
                    500,
                    f"{exc}\n".encode(),
                    {
                        "Content-Type": "text/plain; charset=UTF-8",
                        "X-ClickHouse-Exception-Code": str(exc.code),
                        "X-ClickHouse-Query-Id": query_id,
                    },
                )
                return
            response_headers = {
                "Content-Type": "application/octet-stream",
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": endpoint.timezone,
                "X-ClickHouse-Server-Display-Name": SERVER_NAME,
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Summary": orjson.dumps(summary).decode(),
            }
            encoding = self._response_encoding(request, headers)
            if encoding:
                payload = COMPRESSORS[encoding](payload)
                response_headers["Content-Encoding"] = encoding
            self._send(200, payload, response_headers)

        @staticmethod
        def _response_encoding(request: Request, headers: dict[str, str]) -> str | None:
            if request.params.get("enable_http_compression") != "1":
                return None
            accepted = [e.strip().lower() for e in headers.get("accept-encoding", "").split(",")]
            return next((e for e in accepted if e in COMPRESSORS), None)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: test output stays readable."""

    return Handler


def serve(host: str, port: int, path: Path) -> None:
    """Serve the endpoint until interrupted."""
    endpoint = ChdbHTTPEndpoint(path)
    server = ThreadingHTTPServer((host, port), _handler(endpoint))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        endpoint.close()


def main() -> None:
    """Command line: ``--port``, ``--path`` and optionally ``--host`` (default 127.0.0.1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", type=Path, required=True, help="chDB data directory")
    args = parser.parse_args()
    args.path.mkdir(parents=True, exist_ok=True)
    serve(args.host, args.port, args.path)


if __name__ == "__main__":
    main()
