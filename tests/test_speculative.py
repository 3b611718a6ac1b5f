"""Speculative decoding on the embedded server ([llm] embedded_speculative): the llama.cpp parameters each mode
sets, bad settings refused with the key named, and a real server drafting with the 0.5B model answering a
schema-bound request whose drafted tokens the server reports."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from agents import agent_settings
from agents.llm.embedded import EmbeddedServer
from agents.settings import SettingsError


def _gguf(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.write_bytes(b"GGUF")  # never loaded: params() only names it
    return path


def test_each_mode_sets_its_llama_cpp_parameters(tmp_path):
    main, draft = _gguf(tmp_path, "main.gguf"), _gguf(tmp_path, "draft.gguf")
    assert [t.name for t in EmbeddedServer(main).params().speculative.types] == ["COMMON_SPECULATIVE_TYPE_NONE"]
    ngram = EmbeddedServer(main, speculative="ngram").params().speculative
    assert [t.name for t in ngram.types] == ["COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE"]
    drafted = EmbeddedServer(main, speculative="draft", draft_path=draft, draft_max=6, threads=3).params()
    spec = drafted.speculative
    assert [t.name for t in spec.types] == ["COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE"]
    assert (spec.draft.mparams.path, spec.draft.n_max, spec.draft.cpuparams.n_threads) == (str(draft), 6, 3)


def test_bad_modes_and_missing_draft_files_are_refused(tmp_path, monkeypatch):
    main = _gguf(tmp_path, "main.gguf")
    with pytest.raises(ValueError, match="speculative must be one of none, ngram, draft"):
        EmbeddedServer(main, speculative="fast")
    with pytest.raises(FileNotFoundError, match="draft model file"):
        EmbeddedServer(main, speculative="draft", draft_path=tmp_path / "nowhere.gguf")
    with pytest.raises(ValueError, match="draft_max"):
        EmbeddedServer(main, speculative="draft", draft_path=main, draft_max=0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOWN_EMBEDDED_SPECULATIVE", "fast")
    with pytest.raises(SettingsError, match="embedded_speculative"):
        agent_settings()
    monkeypatch.setenv("TOWN_EMBEDDED_SPECULATIVE", "draft")
    monkeypatch.setenv("TOWN_EMBEDDED_DRAFT_MODEL", str(tmp_path / "nowhere.gguf"))
    with pytest.raises(SettingsError, match="embedded_draft_model"):
        agent_settings()


@pytest.mark.real_model
def test_a_real_server_drafts_with_the_small_model_and_says_how_much_it_accepted():
    from agents.llm.model_files import ensure_model

    small = ensure_model("0.5b")
    schema = {"type": "object", "additionalProperties": False, "required": ["places"], "properties": {
        "places": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"enum": ["Hobbs Cafe", "Johnson Park",
                                                                                  "Oak Hill College", "Town Hall"]}}}}
    body = {"model": small.name, "max_tokens": 60, "temperature": 0,
            "messages": [{"role": "user", "content": "List these places in this order: Hobbs Cafe, Johnson Park, "
                                                     "Oak Hill College, Town Hall."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}}
    with EmbeddedServer(small, ctx=2048, parallel=2, threads=2, speculative="draft", draft_path=small,
                        draft_max=8) as server:
        req = urllib.request.Request(server.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            answer = json.loads(resp.read())
    places = json.loads(answer["choices"][0]["message"]["content"])["places"]
    assert len(places) == 4 and set(places) <= {"Hobbs Cafe", "Johnson Park", "Oak Hill College", "Town Hall"}
    timings = answer["timings"]
    # the model drafting for itself at temperature 0: it drafts, and accepts most of what it drafted
    assert timings["draft_n"] > 0 and 0.5 <= timings["draft_n_accepted"] / timings["draft_n"] <= 1
