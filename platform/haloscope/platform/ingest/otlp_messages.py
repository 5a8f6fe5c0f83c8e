"""Chat messages of OTLP spans in the shape the Haloscope SDK stores for an llm span.

The SDK stores an llm span's input as the request's messages, ``[{role, content, ...}]``, and
its output as the assistant message, ``{role, content, tool_calls?}`` with each tool call as
``{id, name, arguments}``. The instrumentors record the same messages in three shapes, each
read here into that one:

* OpenInference flattens them into attributes: ``llm.input_messages.0.message.role``,
  ``...message.tool_calls.0.tool_call.function.name``, multimodal parts under
  ``...message.contents.0.message_content.{type,text,image.image.url}``. :func:`unflatten`
  rebuilds the nesting (numeric segments become lists, the entity wrappers such as
  ``message.`` and ``tool_call.`` are dropped) and :func:`openinference_message` reads each.
* OpenTelemetry GenAI (``gen_ai.input.messages``/``gen_ai.output.messages``, JSON) gives each
  message as ``{role, parts: [{type, ...}], finish_reason?}``: text parts become ``content``,
  ``tool_call`` parts ``tool_calls``, a ``tool_call_response`` part a tool result
  (:func:`genai_message`).
* The older GenAI attributes ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*`` (Traceloop
  before the messages attributes) are flat ``{role, content, tool_calls.M.{id,name,arguments}}``.

Everything here takes any attribute value and never raises: a value of an unexpected type is
passed through as it is. Nothing depends on the order of an attribute map (the two OTLP
decoders give different orders), so both decoders give the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# The entity names OpenInference puts after a list index (``.0.message.role``): an item that
# holds one of them as an object is that object.
_WRAPPERS = ("message", "tool_call", "message_content", "document", "embedding")


def decoded_json(value: Any) -> Any:
    """Attribute text holding a JSON object or array as the value it encodes; anything else
    (and text that is not valid JSON) as it is."""
    if type(value) is str and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def unflatten(entries: Mapping[str, Any], prefix: str) -> tuple[list[Any], list[str]]:
    """Flattened ``<prefix>N.<path>`` attributes as a list of nested items, in index order.

    Each dotted path becomes nested objects, an object whose keys are all digits becomes a
    list (by index), and an item holding an entity wrapper (``message``, ``tool_call``, ...)
    as an object takes that object's fields. Returns the items and the keys that fit nowhere
    (no numeric index, a path under a key that already holds a value): those stay attributes.
    """
    keys = sorted(entries)
    items = _flat_items(entries, keys, len(prefix))
    if items is not None:
        return items, []
    root: dict[str, Any] = {}
    unused: list[str] = []
    skip = len(prefix)
    for key in keys:
        parts = key[skip:].split(".")
        if len(parts) < 2 or not _is_index(parts[0]) or not all(parts):
            unused.append(key)
            continue
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if type(child) is not dict:
                node = None
                break
            node = child
        if node is None or type(node.get(parts[-1])) is dict:
            unused.append(key)
            continue
        node[parts[-1]] = entries[key]
    items = [_unwrapped(_nested(root[index])) for index in _by_index(root)]
    return items, unused


def _flat_items(entries: Mapping[str, Any], keys: list[str], skip: int) -> list[Any] | None:
    """:func:`unflatten`'s items when every key is ``N.<wrapper>.<field>`` with one wrapper, or
    every key ``N.<field>`` (plain messages and documents, the common case), without building
    the tree; None otherwise. ``keys`` are sorted, so each item's fields are in key order, as
    in the tree."""
    items: dict[str, dict[str, Any]] = {}
    wrapper = None
    item: dict[str, Any] = {}
    last = None
    for key in keys:
        parts = key[skip:].split(".")
        if len(parts) == 3:
            index, head, field = parts
        elif len(parts) == 2:  # N.<field>, no wrapper
            (index, field), head = parts, ""
        else:
            return None
        if not field or _is_index(field):  # a list under the item: the tree's case
            return None
        if wrapper != head:
            if wrapper is not None or (head and head not in _WRAPPERS):
                return None
            wrapper = head
        if index != last:  # keys are sorted: an item's keys come together
            if not (index.isdigit() and index.isascii()):
                return None
            item = items[index] = {}
            last = index
        item[field] = entries[key]
    if all(len(index) == 1 for index in items):  # indexes 0-9: key order is index order
        return list(items.values())
    return [items[index] for index in _by_index(items)]


def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit()


def _by_index(node: dict[str, Any]) -> list[str]:
    return sorted(node, key=lambda key: (int(key), key))


def _nested(node: Any) -> Any:
    """A tree of path segments with digit-keyed objects as lists and wrappers taken in."""
    if type(node) is not dict:
        return node
    if node and all(_is_index(key) for key in node):
        return [_unwrapped(_nested(node[key])) for key in _by_index(node)]
    return {key: _nested(node[key]) for key in node}


def _unwrapped(item: Any) -> Any:
    """A list item with its entity wrapper's fields taken into it (the item's own keys kept)."""
    if type(item) is not dict:
        return item
    for wrapper in _WRAPPERS:
        inner = item.get(wrapper)
        if type(inner) is dict:
            rest = {key: value for key, value in item.items() if key != wrapper}
            if rest.keys().isdisjoint(inner):
                return {**inner, **rest}
    return item


def openinference_message(item: Any) -> Any:
    """An unflattened OpenInference message (``{role, content | contents, tool_calls, ...}``)
    as an SDK message; an item that is not an object is returned as it is."""
    if type(item) is not dict:
        return item
    message = {"role": item.get("role"), "content": item.get("content")}
    for key, value in item.items():
        if key == "contents":
            if message["content"] is None and type(value) is list:
                message["content"] = [_content_part(part) for part in value]
            else:
                message[key] = value
        elif key == "tool_calls" and type(value) is list:
            message[key] = [_openinference_tool_call(call) for call in value]
        elif key not in message:
            message[key] = value
    return message


def _openinference_tool_call(call: Any) -> Any:
    if type(call) is not dict:
        return call
    function = call.get("function")
    if type(function) is not dict:
        return call
    out = {"id": call["id"]} if "id" in call else {}
    out["name"] = function.get("name")
    out["arguments"] = function.get("arguments")
    out.update((key, value) for key, value in call.items() if key not in ("id", "function"))
    return out


def _content_part(part: Any) -> Any:
    """An OpenInference content part in OpenAI's shape: ``{type: text, text}``,
    ``{type: image_url, image_url: {url}}``; any other part as it is."""
    if type(part) is not dict:
        return part
    image = part.get("image")
    if part.get("type") == "image" and type(image) is dict:
        inner = image.get("image")
        url = (inner if type(inner) is dict else image).get("url")
        return {"type": "image_url", "image_url": {"url": url}}
    return part


def genai_messages(value: Any) -> Any:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages`` (JSON text, or an array of
    key/value lists) as a list of SDK messages; any other value as it is."""
    value = decoded_json(value)
    if type(value) is not list:
        return value
    return [genai_message(item) for item in value]


def genai_message(item: Any) -> Any:
    """One GenAI message (``{role, parts, finish_reason?}``) as an SDK message: text parts
    joined into ``content`` (a list of parts when there are others too), ``tool_call`` parts
    as ``tool_calls``, a ``tool_call_response`` part as the tool result with its
    ``tool_call_id``. A message without ``parts`` keeps its fields (and gets ``content``)."""
    if type(item) is not dict:
        return item
    parts = item.get("parts")
    if type(parts) is not list:
        return {"role": item.get("role"), "content": item.get("content"), **item}
    message: dict[str, Any] = {"role": item.get("role")}
    content: list[Any] = []
    calls: list[Any] = []
    for part in parts:
        kind = part.get("type") if type(part) is dict else None
        if kind == "tool_call":
            calls.append(
                {"id": part.get("id"), "name": part.get("name"), "arguments": part.get("arguments")}
            )
        elif kind == "tool_call_response":
            message["tool_call_id"] = part.get("id")
            content.append(part.get("response"))
        elif kind == "text":
            content.append({"type": "text", "text": part.get("content")})
        else:
            content.append(part)
    message["content"] = _joined(content)
    if calls:
        message["tool_calls"] = calls
    message.update((key, value) for key, value in item.items() if key not in ("role", "parts"))
    return message


def _joined(content: list[Any]) -> Any:
    """Content parts as the SDK stores content: None for none, the text or tool result alone
    for one, the texts joined when all are text, else the list of parts."""
    if not content:
        return None
    texts = [
        part.get("text") if type(part) is dict and part.get("type") == "text" else None
        for part in content
    ]
    if all(type(text) is str for text in texts):
        return "".join(texts)
    if len(content) == 1 and type(content[0]) is not dict:
        return content[0]
    return content


def system_message(instructions: Any) -> dict[str, Any]:
    """``gen_ai.system_instructions`` (text, or JSON parts) as the system message."""
    parts = decoded_json(instructions)
    if type(parts) is list:
        return genai_message({"role": "system", "parts": parts})
    return {"role": "system", "content": parts}


def flat_message(item: Any) -> Any:
    """An unflattened ``gen_ai.prompt.N`` / ``gen_ai.completion.N`` item (already
    ``{role, content, tool_calls: [{id, name, arguments}]}``) with ``content`` always there."""
    if type(item) is not dict:
        return item
    return {"role": item.get("role"), "content": item.get("content"), **item}


def event_message(role: str | None, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A GenAI message event's attributes (in key order) as an SDK message of ``role``."""
    message: dict[str, Any] = {"role": role, "content": None}
    for key in sorted(attributes):
        message[key] = decoded_json(attributes[key])
    return message


def choice_message(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A ``gen_ai.choice`` event's attributes as the assistant message it carries (its
    ``message`` object, ``finish_reason`` kept), or the attributes in key order."""
    fields = {key: decoded_json(attributes[key]) for key in sorted(attributes)}
    message = fields.get("message")
    if type(message) is not dict:
        return fields
    out = {"role": message.get("role") or "assistant", "content": message.get("content")}
    for key, value in message.items():
        if key == "tool_calls" and type(value) is list:
            value = [_openinference_tool_call(call) for call in value]
        out.setdefault(key, value)
    if "finish_reason" in fields:
        out["finish_reason"] = fields["finish_reason"]
    return out


def output_of(messages: Any) -> Any:
    """Output messages as the SDK stores an llm span's output: the one message itself, a
    list when there are several (``n`` choices)."""
    if type(messages) is list and len(messages) == 1 and type(messages[0]) is dict:
        return messages[0]
    return messages
