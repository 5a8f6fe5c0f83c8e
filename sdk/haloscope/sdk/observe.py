"""The ``@observe`` decorator for functions, coroutines, generators and async generators."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from random import getrandbits
from typing import Any, TypeVar, overload

from . import client as _clients
from ._logging import log_once
from .spans import UNSET, CallArgs, Span, validate_kind
from .tracing import current_span, start_span

F = TypeVar("F", bound=Callable[..., Any])

MAX_CAPTURED_ITEMS = 10_000


class _Instrumentation:
    """What one decorated function records: its span name, kind and capture choices."""

    __slots__ = ("name", "kind", "signature", "capture_input", "capture_output")

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        kind: str,
        capture_input: bool | None,
        capture_output: bool | None,
    ) -> None:
        self.name = name
        self.kind = kind
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None
        self.capture_input = capture_input
        self.capture_output = capture_output

    def open(self, args: tuple, kwargs: dict, parent: Span | None) -> tuple[Span, bool]:
        """Start the span of one call; returns it and whether to capture the result."""
        client = _clients._client or _clients.get_client()
        config = client.config
        if parent is None:
            span = start_span(client, self.name, self.kind, None)
        else:  # start_span inlined: this is the per-call hot path
            span = Span(
                parent.trace, getrandbits(64) or 1, parent.sid, self.name, self.kind, parent._sink
            )
        if self.capture_input if self.capture_input is not None else config.capture_input:
            span.input = CallArgs(self.signature, args, kwargs)
        capture_output = self.capture_output
        return span, config.capture_output if capture_output is None else capture_output


def _sdk_failed(exc: Exception) -> None:
    log_once("observe", "haloscope: tracing failed; the call runs untraced (%s)", exc)


def _finish(span: Span, capture: bool, output: Any) -> None:
    if capture and span.output is UNSET:
        span.output = output
    span.end()


def _wrap_function(fn: Callable[..., Any], inst: _Instrumentation) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = inst.open(args, kwargs, current_span.get())
        except Exception as exc:
            _sdk_failed(exc)
            return fn(*args, **kwargs)
        token = current_span.set(span)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            current_span.reset(token)
            span.record_exception(exc)
            span.end()
            raise
        current_span.reset(token)
        _finish(span, capture, result)
        return result

    return wrapper


def _wrap_coroutine(fn: Callable[..., Any], inst: _Instrumentation) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span, capture = inst.open(args, kwargs, current_span.get())
        except Exception as exc:
            _sdk_failed(exc)
            return await fn(*args, **kwargs)
        token = current_span.set(span)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            current_span.reset(token)
            span.record_exception(exc)
            span.end()
            raise
        current_span.reset(token)
        _finish(span, capture, result)
        return result

    return wrapper


class _Items:
    """Yielded values kept as the output of a generator span (bounded)."""

    __slots__ = ("values", "count")

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.count = 0

    def add(self, item: Any) -> None:
        self.count += 1
        if self.count <= MAX_CAPTURED_ITEMS:
            self.values.append(item)

    def output(self) -> list[Any]:
        extra = self.count - len(self.values)
        return self.values + [f"<{extra} more items>"] if extra else self.values


def _traced_iteration(
    inst: _Instrumentation, gen: Generator, args: tuple, kwargs: dict, parent: Span | None
) -> Generator:
    """Drive ``gen`` inside its span; the span covers the whole iteration."""
    try:
        span, capture = inst.open(args, kwargs, parent)
    except Exception as exc:
        _sdk_failed(exc)
        return (yield from gen)
    items = _Items()
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            token = current_span.set(span)
            try:
                if thrown is None:
                    item = gen.send(sent)
                else:
                    item, thrown = gen.throw(thrown), None
            finally:
                current_span.reset(token)
            if capture:
                items.add(item)
            try:
                sent = yield item
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:
                thrown = exc
    except StopIteration as stop:
        _finish(span, capture, items.output())
        return stop.value
    except GeneratorExit:
        _finish(span, capture, items.output())
        raise
    except BaseException as exc:
        span.record_exception(exc)
        _finish(span, capture, items.output())
        raise


async def _traced_async_iteration(
    inst: _Instrumentation, agen: AsyncGenerator, args: tuple, kwargs: dict, parent: Span | None
) -> AsyncGenerator:
    """Drive ``agen`` inside its span; the span covers the whole iteration."""
    try:
        span, capture = inst.open(args, kwargs, parent)
    except Exception as exc:
        _sdk_failed(exc)
        async for item in agen:
            yield item
        return
    items = _Items()
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            token = current_span.set(span)
            try:
                if thrown is None:
                    item = await agen.asend(sent)
                else:
                    item, thrown = await agen.athrow(thrown), None
            finally:
                current_span.reset(token)
            if capture:
                items.add(item)
            try:
                sent = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as exc:
                thrown = exc
    except StopAsyncIteration:
        _finish(span, capture, items.output())
    except GeneratorExit:
        _finish(span, capture, items.output())
        raise
    except BaseException as exc:
        span.record_exception(exc)
        _finish(span, capture, items.output())
        raise


def _wrap_generator(fn: Callable[..., Any], inst: _Instrumentation) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator:
        return _traced_iteration(inst, fn(*args, **kwargs), args, kwargs, current_span.get())

    return wrapper


def _wrap_async_generator(fn: Callable[..., Any], inst: _Instrumentation) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator:
        return _traced_async_iteration(inst, fn(*args, **kwargs), args, kwargs, current_span.get())

    return wrapper


@overload
def observe(func: F) -> F: ...


@overload
def observe(
    func: None = None,
    *,
    name: str | None = None,
    as_type: str = "span",
    capture_input: bool | None = None,
    capture_output: bool | None = None,
) -> Callable[[F], F]: ...


def observe(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    as_type: str = "span",
    capture_input: bool | None = None,
    capture_output: bool | None = None,
) -> Any:
    """Trace every call of a function as a span (``@observe`` or ``@observe(...)``).

    Works for functions, coroutines, generators and async generators (their span covers
    the whole iteration; the output is the list of yielded items). Arguments (by name,
    without ``self``/``cls``) and the return value are captured unless disabled here or in
    :func:`init`. Exceptions mark the span failed and are re-raised unchanged.
    ``as_type``: ``llm``, ``retrieval``, ``tool``, ``chain``, ``agent``, ``embedding``, ``span``.
    """
    kind = validate_kind(as_type)

    def decorate(fn: F) -> F:
        inst = _Instrumentation(fn, name or fn.__name__, kind, capture_input, capture_output)
        if inspect.isasyncgenfunction(fn):
            return _wrap_async_generator(fn, inst)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, inst)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):
            return _wrap_coroutine(fn, inst)  # type: ignore[return-value]
        return _wrap_function(fn, inst)  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate
