"""Texts that tokenizers are compared on, and the chat templates tests render."""

from __future__ import annotations

import random

FIXED_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! It's 9:30am; don't you think we'll've been late? I'M SURE THEY'LL SAY IT'S OK",
    "naïve café résumé coöperate façade Ångström",
    "e\u0301 a\u0308 combining: n\u0303o (not NFC)",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Русский текст, ελληνικά, עברית, العربية, हिन्दी, ไทย",
    "emoji: 🤗👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🧑🏿‍🚀",
    "digits 0 12 345 6789 3.14159 1,000,000 2024-06-01 +44 (0)20 7946 0958 x2y34z",
    "  two leading spaces",
    "trailing spaces   ",
    "a  b   c    d     e",
    " " * 30 + "thirty spaces",
    "tabs\tand\t\ttabs\t\t\t\n",
    "lines\n\nand\n\n\nmore\r\nwindows\r\n \n  \n",
    "def f(x):\n    return {'a': [1, 2, 3], \"b\": x ** 2}  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }  // C\n\tif (x) {\n\t\treturn;\n\t}",
    '{"key": "value", "n": 42, "list": [true, false, null]}',
    "<table><tr><td>cell</td></tr></table> <b>bold</b> <div class='x'>",
    "rare: \ue000 \U00020000 \u2603 \u0007 \x00 \U0010fffd",
    "mixed 😀abc😀 123abc abc123 ABC-def_ghi.jkl",
    "URLs: https://example.com/path?q=1&r=two#frag and mail@example.org",
    "Markdown **bold** _it_ `code` [link](http://x.y) - item\n1. first",
    "...!!! ??? --- ___ *** ''' \"\"\" ``` ;;; ::: ,,,",
    "",
    " ",
    "\n",
    "▁ already a metaspace ▁▁ char",
    "<0x41> looks like a byte token",
]
"""Hand-picked: ASCII prose and contractions, accents (composed and combining), CJK, other
scripts, emoji (skin tones, ZWJ, flags), digit runs, runs of spaces / tabs / newlines, code,
HTML tags, rare and control characters, punctuation runs, empty and blank strings."""

_POOL = [word for text in FIXED_TEXTS for word in text.split(" ") if word] + [
    *["  ", "   ", " " * 7, "\n", "\t", "\n\n", "\r\n"],
    *["🙂", "ß", "ǅ", "İ", "ﬁ", "½", "①", "٣", "𝔘𝔫𝔦", "'s", "'LL"],
]


def tokenizer_texts(count: int = 600, seed: int = 0) -> list[str]:
    """:data:`FIXED_TEXTS` and pseudo-random mixes of their words, whitespace, numbers and
    random code points up to U+2FFF (many outside any vocabulary: byte fallback)."""
    rng = random.Random(seed)
    texts = list(FIXED_TEXTS)
    while len(texts) < count:
        parts = []
        for _ in range(rng.randint(1, 20)):
            draw = rng.random()
            if draw < 0.7:
                parts.append(rng.choice(_POOL))
            elif draw < 0.85:
                length = rng.randint(1, 6)
                parts.append("".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(length)))
            else:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        texts.append(rng.choice(["", " ", "\n"]).join(parts))
    return texts


GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    '    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate '
    'user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    '        {%- set role = "model" -%}\n'
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    '        {{ raise_exception("Invalid content type") }}\n'
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n"
)
"""Gemma 3's chat template (``tokenizer_config.json`` of google/gemma-3-270m-it and the other
instruction-tuned Gemma 3 models). The packaged Gemma 3 270M GGUF is the base model and carries
no template, so tests pass this one."""

CONVERSATIONS = [
    [{"role": "user", "content": "Is the sky blue?"}],
    [
        {"role": "system", "content": "You judge answers. Reply Yes or No."},
        {"role": "user", "content": "  Knowledge: Paris is in France.\nAnswer: Paris.  "},
    ],
    [
        {"role": "system", "content": 'Be brief — <3 & "ok".'},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! <b>How</b> can I help? 🤗"},
        {"role": "user", "content": 'Say "ok" & stop.'},
    ],
]
"""Conversations rendered with and without the generation prompt."""
