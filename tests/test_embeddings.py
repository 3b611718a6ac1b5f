"""The offline MiniLM embedder: vectors, semantics, determinism, chroma protocol, no hub access."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chromadb.utils.embedding_functions import config_to_embedding_function, known_embedding_functions

from agents.memory.embeddings import DIM, EmbeddingModelError, MiniLMEmbedding, _verify_model, default_embedder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emb() -> MiniLMEmbedding:
    return default_embedder()


def test_shape_and_unit_norm(emb: MiniLMEmbedding) -> None:
    v = emb.embed_array(["Isabella runs Hobbs Cafe.", "Klaus studies gentrification.", "Hi"])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert emb.embed_array([]).shape == (0, DIM)


def test_similar_sentences_are_closer_than_unrelated(emb: MiniLMEmbedding) -> None:
    a, b, c = emb.embed_array(
        ["Isabella is planning a Valentine's Day party.", "Isabella is organising a party for Valentine's Day.", "The bus engine needs new spark plugs."]
    )
    assert float(a @ b) > 0.8
    assert float(a @ b) > float(a @ c) + 0.4


def test_deterministic_and_independent_of_batch_padding(emb: MiniLMEmbedding) -> None:
    short = "coffee at the cafe"
    long = "a much longer sentence about the library, the park, the pharmacy and the college campus " * 3
    alone = emb.embed_array([short])[0]
    again = emb.embed_array([short])[0]
    padded = emb.embed_array([long, short])[1]
    np.testing.assert_array_equal(alone, again)
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_long_text_is_truncated_not_rejected(emb: MiniLMEmbedding) -> None:
    base = "Maria studies physics at Oak Hill College. "
    v_40, v_80 = emb.embed_array([base * 40, base * 80])  # ~320 and ~640 tokens
    np.testing.assert_allclose(v_40, v_80, atol=1e-5)  # only the first 256 tokens count


def test_batching_matches_single_calls() -> None:
    small = MiniLMEmbedding(threads=1, batch_size=2)
    texts = [f"memory number {i} about the town" for i in range(5)]
    batched = small.embed_array(texts)
    single = np.stack([small.embed_array([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_chroma_protocol(emb: MiniLMEmbedding) -> None:
    assert not emb.is_legacy()
    assert known_embedding_functions[MiniLMEmbedding.name()] is MiniLMEmbedding
    rebuilt = config_to_embedding_function({"name": emb.name(), "config": emb.get_config()})
    assert isinstance(rebuilt, MiniLMEmbedding) and rebuilt.get_config() == emb.get_config()
    out = emb(["one", "two"])
    assert len(out) == 2 and len(out[0]) == DIM
    assert emb.default_space() == "cosine"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="threads"):
        MiniLMEmbedding(threads=4)
    with pytest.raises(ValueError, match="batch_size"):
        MiniLMEmbedding(batch_size=0)
    with pytest.raises(TypeError, match="single string"):
        default_embedder().embed_array("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="#1"):
        default_embedder().embed_array(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="lacks"):
        MiniLMEmbedding.build_from_config({"threads": 1})


def test_model_checksum_is_enforced(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(EmbeddingModelError, match="sha256"):
        _verify_model(fake, "0" * 64)
    with pytest.raises(EmbeddingModelError, match="not found"):
        _verify_model(tmp_path / "missing.onnx", "0" * 64)


def test_works_offline_in_a_fresh_process(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HOME": str(tmp_path)}
    code = (
        "from agents.memory.embeddings import default_embedder; "
        "v = default_embedder().embed_array(['offline works']); print(v.shape)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"(1, {DIM})"
    assert not (tmp_path / ".cache" / "chroma").exists()  # chroma's default model was not downloaded
