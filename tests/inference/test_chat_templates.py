"""Chat templates render exactly as transformers' ``apply_chat_template`` renders them: from GGUF
metadata (SmolLM2), from ``tokenizer_config.json`` / ``chat_template.jinja`` (safetensors
directories), for Gemma 3's template and for one that needs transformers' Jinja settings
(``trim_blocks``, ``lstrip_blocks``, loop controls, its ``tojson``, ``{% generation %}``)."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
from haloscope.inference.chat_template import ChatTemplateError
from haloscope.inference.loader import LoadedModel
from haloscope.inference.tokenizer import HFCodec, TextTokenizer, tokenizer_from_dir
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from tests.inference.tokenizer_data import CONVERSATIONS, GEMMA3_CHAT_TEMPLATE

LAYOUT_TEMPLATE = """{% set ns = namespace(system=none) %}
{% for message in messages %}
    {% if message['role'] == 'system' %}
        {% set ns.system = message['content'] %}
        {% continue %}
    {% endif %}
    <|{{ message['role'] }}|>
    {% if ns.system is not none %}
        [{{ ns.system | tojson }}]
        {% set ns.system = none %}
    {% endif %}
    {% if message['role'] == 'assistant' %}
        {% generation %}{{ message['content'] }}{% endgeneration %}{{ eos_token }}
    {% else %}
        {{ message['content'] | trim }}
    {% endif %}
{% endfor %}
{% if add_generation_prompt %}
    <|assistant|>
{% endif %}
"""
"""Block tags on their own, indented lines: the output depends on trim_blocks/lstrip_blocks."""
SPECIAL_TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>"}


def _word_tokenizer() -> Tokenizer:
    vocab = {"<unk>": 0, "<bos>": 1, "<eos>": 2, "hi": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


def _hf(template: str) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_tokenizer(), chat_template=template, **SPECIAL_TOKENS
    )


def _ours(template: str) -> TextTokenizer:
    return TextTokenizer(HFCodec(_word_tokenizer()), [2], 1, True, template, SPECIAL_TOKENS)


def _assert_same_rendering(ours: TextTokenizer, reference) -> None:
    for messages in CONVERSATIONS:
        for add_generation_prompt in (True, False):
            expected = reference.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
            assert ours.apply_chat_template(messages, add_generation_prompt) == expected


def test_smollm2_gguf_template_renders_as_transformers(smollm_loaded: LoadedModel) -> None:
    path = Path(smollm_loaded.source)
    reference = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert smollm_loaded.tokenizer.chat_template == reference.chat_template
    _assert_same_rendering(smollm_loaded.tokenizer, reference)


@pytest.mark.parametrize("template", [GEMMA3_CHAT_TEMPLATE, LAYOUT_TEMPLATE])
def test_template_renders_as_transformers(template: str) -> None:
    _assert_same_rendering(_ours(template), _hf(template))


@pytest.mark.parametrize("location", ["tokenizer_config.json", "chat_template.jinja"])
def test_directory_template_renders_as_transformers(tmp_path: Path, location: str) -> None:
    _word_tokenizer().save(str(tmp_path / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **SPECIAL_TOKENS}
    if location == "chat_template.jinja":
        (tmp_path / location).write_text(LAYOUT_TEMPLATE)
    else:
        config["chat_template"] = LAYOUT_TEMPLATE
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    ours = tokenizer_from_dir(tmp_path, {"bos_token_id": 1, "eos_token_id": 2})
    assert ours.chat_template == LAYOUT_TEMPLATE
    _assert_same_rendering(ours, AutoTokenizer.from_pretrained(str(tmp_path)))


def test_template_errors_and_sandbox() -> None:
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        _ours(GEMMA3_CHAT_TEMPLATE).apply_chat_template([{"role": "assistant", "content": "x"}])
    with pytest.raises(jinja2.exceptions.SecurityError):  # the sandbox refuses mutation
        _ours("{{ messages.append(1) }}").apply_chat_template(CONVERSATIONS[0])
    with pytest.raises(ChatTemplateError, match="does not parse"):
        _ours("{% for %}").apply_chat_template(CONVERSATIONS[0])
