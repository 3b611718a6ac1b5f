"""Joining the embedded model from part packages: order, pinned hash, refusal, marker."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import pytest

from agents.llm import model_files
from agents.llm.model_files import ModelFilesError, ModelSpec, ensure_model

PARTS = [b"GGUF-first-chunk|", b"second chunk|", b"third and last"]


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    """Three part modules (fake_town_part1..3) whose files hold PARTS, and a 'tiny' spec pinned to their join."""
    for i, data in enumerate(PARTS, start=1):
        path = tmp_path / "site" / f"part{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        module = types.ModuleType(f"fake_town_part{i}")
        module.get_part_path = lambda p=path: str(p)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
    joined = b"".join(PARTS)
    spec = ModelSpec(
        file_name="tiny.gguf",
        modules=("fake_town_part1", "fake_town_part2", "fake_town_part3"),
        sha256=hashlib.sha256(joined).hexdigest(),
        size_bytes=len(joined),
        pip_extra="tiny-model",
    )
    monkeypatch.setitem(model_files.MODEL_SPECS, "tiny", spec)
    monkeypatch.setenv("TOWN_CACHE_DIR", str(tmp_path / "cache"))
    return spec


def test_parts_are_joined_in_order_into_the_cache_dir(fake_parts: ModelSpec, tmp_path: Path):
    path = ensure_model("tiny")  # type: ignore[arg-type]
    assert path == tmp_path / "cache" / "tiny.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    marker = json.loads((tmp_path / "cache" / "tiny.gguf.verified.json").read_text())
    assert marker["sha256"] == fake_parts.sha256 and marker["size"] == fake_parts.size_bytes
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith(".")) == [
        "tiny.gguf",
        "tiny.gguf.verified.json",
    ]  # no temp file left behind


def test_marker_skips_rehash_until_the_file_changes(fake_parts: ModelSpec, monkeypatch: pytest.MonkeyPatch):
    path = ensure_model("tiny")  # type: ignore[arg-type]
    hashed: list[Path] = []
    real = model_files._sha256_file

    def spy(p: Path) -> str:
        hashed.append(p)
        return real(p)

    monkeypatch.setattr(model_files, "_sha256_file", spy)
    assert ensure_model("tiny") == path  # type: ignore[arg-type]
    assert hashed == []  # the marker matched: no re-hash, no re-join
    # same size, different bytes, new mtime: re-verified, found bad, deleted, re-joined from the parts
    path.write_bytes(b"X" * fake_parts.size_bytes)
    assert ensure_model("tiny") == path  # type: ignore[arg-type]
    assert hashed == [path]
    assert path.read_bytes() == b"".join(PARTS)


def test_existing_good_file_without_marker_is_verified_not_rejoined(fake_parts: ModelSpec, tmp_path: Path):
    target = tmp_path / "cache" / "tiny.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"".join(PARTS))
    for i in range(1, 4):  # the parts are gone: a re-join would fail
        sys.modules.pop(f"fake_town_part{i}")
    assert ensure_model("tiny") == target  # type: ignore[arg-type]
    assert (tmp_path / "cache" / "tiny.gguf.verified.json").exists()


def test_sha_mismatch_is_refused_and_nothing_is_kept(fake_parts: ModelSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    wrong = ModelSpec(**{**fake_parts.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(model_files.MODEL_SPECS, "tiny", wrong)
    with pytest.raises(ModelFilesError, match=r"refusing the embedded model tiny.gguf.*sha256") as err:
        ensure_model("tiny")  # type: ignore[arg-type]
    assert "pip install 'town[tiny-model]'" in str(err.value)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == []


def test_wrong_order_gives_a_different_file_and_is_refused(fake_parts: ModelSpec, monkeypatch: pytest.MonkeyPatch):
    shuffled = ModelSpec(**{**fake_parts.__dict__, "modules": tuple(reversed(fake_parts.modules))})
    monkeypatch.setitem(model_files.MODEL_SPECS, "tiny", shuffled)
    with pytest.raises(ModelFilesError, match="refusing"):
        ensure_model("tiny")  # type: ignore[arg-type]


def test_size_mismatch_is_refused(fake_parts: ModelSpec, monkeypatch: pytest.MonkeyPatch):
    longer = ModelSpec(**{**fake_parts.__dict__, "size_bytes": fake_parts.size_bytes + 1})
    monkeypatch.setitem(model_files.MODEL_SPECS, "tiny", longer)
    with pytest.raises(ModelFilesError, match=f"{fake_parts.size_bytes} bytes"):
        ensure_model("tiny")  # type: ignore[arg-type]


def test_missing_part_names_the_install_command(fake_parts: ModelSpec, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "fake_town_part2")
    with pytest.raises(ModelFilesError, match=r"missing: fake_town_part2\..*pip install 'town\[tiny-model\]'"):
        ensure_model("tiny")  # type: ignore[arg-type]


def test_unknown_size_is_a_value_error():
    with pytest.raises(ValueError, match="'7b'.*0.5b"):
        ensure_model("7b")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", sorted(model_files.MODEL_SPECS))
def test_real_specs_pin_the_part_sizes(size: str):
    """The pinned size equals the sum of the installed parts; skipped, with the reason, where they are missing."""
    spec = model_files.MODEL_SPECS[size]
    try:
        parts = model_files.part_paths(spec)
    except ModelFilesError as exc:
        pytest.skip(f"the {size} model parts are not installed: {exc}")
    assert len(parts) == len(spec.modules)
    assert sum(p.stat().st_size for p in parts) == spec.size_bytes, size
    assert len(spec.sha256) == 64


def test_the_join_reports_its_progress_in_bytes(fake_parts: ModelSpec):
    """What `town model` and the first run's progress bar show while the parts are joined."""
    seen: list[tuple[int, int]] = []
    ensure_model("tiny", on_progress=lambda done, total: seen.append((done, total)))  # type: ignore[arg-type]
    total = fake_parts.size_bytes
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (total, total)
    assert {t for _, t in seen} == {total}
    seen.clear()
    ensure_model("tiny", on_progress=lambda done, total: seen.append((done, total)))  # type: ignore[arg-type]
    assert seen == []  # verified already: nothing joined, nothing to show
