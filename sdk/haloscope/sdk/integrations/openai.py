"""Trace OpenAI (``openai>=1``) chat and text completions as ``llm`` spans.

``wrap_openai(client)`` patches ``client.chat.completions.create`` and
``client.completions.create`` of an ``OpenAI`` or ``AsyncOpenAI`` instance (Azure and
other subclasses included). Streams are traced until consumed or closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .._logging import log_once
from ..spans import Span
from ..tracing import active_client, current_span, start_span

_KNOWN_HOSTS = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.together.xyz": "together",
    "openrouter.ai": "openrouter",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
    "api.fireworks.ai": "fireworks",
    "generativelanguage.googleapis.com": "google",
}
_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "tool_choice",
    "reasoning_effort",
)
_WRAPPED = "__haloscope_wrapped__"


def provider_for(base_url: Any) -> str:
    """``openai`` for the OpenAI API, a known provider's name, else the endpoint's host."""
    host = urlsplit(str(base_url)).hostname or ""
    if host.endswith(".openai.azure.com"):
        return "azure"
    return _KNOWN_HOSTS.get(host, host or "openai")


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _message_dict(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "role": _get(message, "role") or "assistant",
        "content": _get(message, "content"),
    }
    tool_calls = _get(message, "tool_calls")
    if tool_calls:
        out["tool_calls"] = [
            {
                "id": _get(call, "id"),
                "name": _get(_get(call, "function"), "name"),
                "arguments": _get(_get(call, "function"), "arguments"),
            }
            for call in tool_calls
        ]
    return out


class _Call:
    """The span of one ``create`` call and how to read its response."""

    def __init__(self, endpoint: str, provider: str, kwargs: dict[str, Any]) -> None:
        self.chat = endpoint == "chat"
        name = "openai.chat.completions.create" if self.chat else "openai.completions.create"
        self.span: Span = start_span(active_client(), name, "llm", current_span.get())
        fields: dict[str, Any] = {"model": kwargs.get("model"), "provider": provider}
        if self.chat:
            fields["messages"] = list(kwargs.get("messages") or ())
        else:
            fields["input"] = kwargs.get("prompt")
        parameters = {k: kwargs[k] for k in _PARAMETERS if k in kwargs and _is_given(kwargs[k])}
        if parameters:
            fields["metadata"] = {"model_parameters": parameters}
        self.span.update(**fields)
        self.started = time.perf_counter()
        self.content: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.first_token_at: float | None = None

    def record_response(self, response: Any) -> None:
        choices = _get(response, "choices") or []
        if choices:
            first = choices[0]
            output = _message_dict(_get(first, "message")) if self.chat else _get(first, "text")
            self.span.update(output=output)
        self._record_model_and_usage(response)

    def _record_model_and_usage(self, payload: Any) -> None:
        if _get(payload, "model"):
            self.span.update(model=_get(payload, "model"))
        usage = _get(payload, "usage")
        if usage is not None:
            self.span.update(usage=usage)

    def record_chunk(self, chunk: Any) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self._record_model_and_usage(chunk)
        for choice in _get(chunk, "choices") or ():
            if (_get(choice, "index") or 0) != 0:
                continue
            if not self.chat:
                self.content.append(_get(choice, "text") or "")
                continue
            delta = _get(choice, "delta")
            self.content.append(_get(delta, "content") or "")
            for call in _get(delta, "tool_calls") or ():
                slot = self.tool_calls.setdefault(
                    _get(call, "index") or 0, {"id": None, "name": None, "arguments": ""}
                )
                function = _get(call, "function")
                slot["id"] = _get(call, "id") or slot["id"]
                slot["name"] = _get(function, "name") or slot["name"]
                slot["arguments"] += _get(function, "arguments") or ""

    def finish_stream(self) -> None:
        text = "".join(self.content)
        if self.chat:
            output: Any = {"role": "assistant", "content": text}
            if self.tool_calls:
                output["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        else:
            output = text
        fields: dict[str, Any] = {"output": output}
        if self.first_token_at is not None:
            ttft = round((self.first_token_at - self.started) * 1000, 3)
            fields["metadata"] = {"time_to_first_token_ms": ttft}
        self.span.update(**fields)
        self.span.end()

    def fail(self, exc: BaseException) -> None:
        self.span.record_exception(exc)
        self.span.end()


def _is_given(value: Any) -> bool:
    return type(value).__name__ not in ("NotGiven", "Omit")


def _open_call(endpoint: str, provider: str, kwargs: dict[str, Any]) -> _Call | None:
    try:
        return _Call(endpoint, provider, kwargs)
    except Exception as exc:
        log_once("openai-span", "haloscope: could not trace an OpenAI call (%s)", exc)
        return None


class _StreamSpan:
    """Shared by the stream wrappers: ends the call's span exactly once."""

    def __init__(self, stream: Any, call: _Call) -> None:
        self._stream = stream
        self._call = call
        self._done = False

    def _end(self, exc: BaseException | None = None) -> None:
        if not self._done:
            self._done = True
            if exc is None:
                self._call.finish_stream()
            else:
                self._call.fail(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _TracedStream(_StreamSpan):
    """Wraps a ``Stream``: forwards chunks, ends the span when exhausted, closed or failed."""

    def __init__(self, stream: Any, call: _Call) -> None:
        super().__init__(stream, call)
        self._iterator = iter(stream)

    def __iter__(self) -> _TracedStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._end()
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._call.record_chunk(chunk)
        return chunk

    def close(self) -> None:
        """Close the HTTP response and end the span with what was received."""
        self._end()
        self._stream.close()

    def __enter__(self) -> _TracedStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class _TracedAsyncStream(_StreamSpan):
    """Wraps an ``AsyncStream`` like :class:`_TracedStream`."""

    def __init__(self, stream: Any, call: _Call) -> None:
        super().__init__(stream, call)
        self._iterator = stream.__aiter__()

    def __aiter__(self) -> _TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._end()
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._call.record_chunk(chunk)
        return chunk

    async def close(self) -> None:
        """Close the HTTP response and end the span with what was received."""
        self._end()
        await self._stream.close()

    async def __aenter__(self) -> _TracedAsyncStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


def _wrap_create(
    create: Callable[..., Any], endpoint: str, provider: str, is_async: bool
) -> Callable[..., Any]:
    if is_async:

        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            call = _open_call(endpoint, provider, kwargs)
            if call is None:
                return await create(*args, **kwargs)
            try:
                result = await create(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            if kwargs.get("stream") is True:
                return _TracedAsyncStream(result, call)
            _complete(call, result)
            return result

        return traced_async

    def traced(*args: Any, **kwargs: Any) -> Any:
        call = _open_call(endpoint, provider, kwargs)
        if call is None:
            return create(*args, **kwargs)
        try:
            result = create(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if kwargs.get("stream") is True:
            return _TracedStream(result, call)
        _complete(call, result)
        return result

    return traced


def _complete(call: _Call, response: Any) -> None:
    try:
        call.record_response(response)
    except Exception as exc:
        log_once("openai-response", "haloscope: could not read an OpenAI response (%s)", exc)
    call.span.end()


def wrap_openai(client: Any, *, provider: str | None = None) -> Any:
    """Instrument an ``OpenAI``/``AsyncOpenAI`` client in place and return it.

    ``provider`` defaults to ``openai`` for api.openai.com, else the ``base_url`` host.
    Wrapping twice is harmless.
    """
    if getattr(client, _WRAPPED, False):
        return client
    import openai

    name = provider or provider_for(getattr(client, "base_url", ""))
    is_async = isinstance(client, openai.AsyncOpenAI)
    for endpoint, resource in (("chat", client.chat.completions), ("text", client.completions)):
        resource.create = _wrap_create(resource.create, endpoint, name, is_async)
    setattr(client, _WRAPPED, True)
    return client
