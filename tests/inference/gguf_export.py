"""Write a tiny transformers model as a float32 GGUF file the way llama.cpp's converter does:
its tensor names and metadata, Llama's Q/K row permutation, Llama 3 RoPE as ``rope_freqs``,
Gemma's norms as 1 + w, its sliding window and soft-capping keys.

One addition for Gemma: ``attention.scale`` carries ``query_pre_attn_scalar^-0.5``, which
llama.cpp derives from the model size instead (right for real Gemmas, not for tiny ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
} | {f"self_attn.{p}_proj.{kind}": f"attn_{p}.{kind}" for p in "qkv" for kind in ("weight", "bias")}
_GEMMA_LAYER_NAMES = _LAYER_NAMES | {
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
}
_ARCHES = {"mistral": "llama", "gemma3_text": "gemma3"}
_GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def _permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute``: HF rotate-half rows -> interleaved RoPE pairs."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _gguf_name(hf_name: str, gemma: bool) -> str:
    if hf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)
    return f"blk.{layer}.{(_GEMMA_LAYER_NAMES if gemma else _LAYER_NAMES)[rest]}"


def _add_gemma_metadata(writer: Any, cfg: Any) -> None:
    """Gemma's window and soft-capping keys, as llama.cpp writes them, and the query scale."""
    writer.add_sliding_window(cfg.sliding_window)
    if cfg.model_type == "gemma2":
        writer.add_attn_logit_softcapping(cfg.attn_logit_softcapping)
    if cfg.final_logit_softcapping is not None:
        writer.add_final_logit_softcapping(cfg.final_logit_softcapping)
    writer.add_attention_scale(cfg.query_pre_attn_scalar**-0.5)


def export_gguf(model: torch.nn.Module, model_dir: Path, path: Path) -> Path:
    """Write ``model`` (saved in ``model_dir`` with its tokenizer.json) to ``path``."""
    import gguf

    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    arch = _ARCHES.get(cfg.model_type, cfg.model_type)
    gemma = arch.startswith("gemma")
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_key_length(head_dim)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    rope = cfg.rope_parameters.get("full_attention", cfg.rope_parameters)
    if gemma:
        _add_gemma_metadata(writer, cfg)
    writer.add_rope_freq_base(rope["rope_theta"])
    if rope["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(rope["factor"])
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(sorted(vocab, key=vocab.get))
    writer.add_token_merges([])
    writer.add_bos_token_id(cfg.bos_token_id)
    writer.add_eos_token_id(cfg.eos_token_id)
    if rope["rope_type"] == "llama3":  # llama.cpp stores plain / scaled inverse frequencies
        scaled = model.model.rotary_emb.inv_freq
        plain = 1.0 / (rope["rope_theta"] ** (torch.arange(0, head_dim, 2).float() / head_dim))
        writer.add_tensor("rope_freqs.weight", (plain / scaled).numpy())
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        array = tensor.detach().float().numpy()
        if gemma and name.endswith("norm.weight"):
            array = array + np.float32(1.0)
        elif arch == "llama" and ".q_proj." in name:
            array = _permute(array, cfg.num_attention_heads)
        elif arch == "llama" and ".k_proj." in name:
            array = _permute(array, cfg.num_key_value_heads)
        writer.add_tensor(_gguf_name(name, gemma), np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def export_tokenizer_gguf(
    path: Path,
    tokens: list[str],
    token_types: list[int],
    *,
    model: str,
    merges: list[str] | None = None,
    scores: list[float] | None = None,
    pre: str | None = None,
    special_ids: dict[str, int] | None = None,
    add_bos: bool | None = None,
    add_space_prefix: bool | None = None,
    chat_template: str | None = None,
) -> Path:
    """Write a GGUF that holds only a tokenizer (``tokenizer.ggml.*`` keys as llama.cpp's
    converter writes them; arch ``llama``, no tensors): ``model`` ``gpt2`` with ``merges`` and
    ``pre``, or ``llama`` (SentencePiece) with ``scores``. ``special_ids``: ``bos``, ``eos``,
    ``unk``, ``pad``."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model(model)
    if pre is not None:
        writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    if merges is not None:
        writer.add_token_merges(merges)
    if scores is not None:
        writer.add_token_scores(scores)
    adders = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for name, token_id in (special_ids or {}).items():
        adders[name](token_id)
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    if add_space_prefix is not None:
        writer.add_add_space_prefix(add_space_prefix)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
