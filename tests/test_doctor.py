"""`town doctor` on sound and broken setups: what a user reads, and the exit status."""

from __future__ import annotations

import os
import socket

import pytest
from typer.testing import CliRunner

from agents.llm import model_files as mf
from agents.testing import FakeOpenAIServer
from agents.settings import agent_settings
from town.app.cli import app as cli
from town.app.doctor import check_model


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No endpoint, key or config file from the machine; flags that doctor turns into variables are undone."""
    for name in ("OPENAI_BASE_URL", "TOWN_BASE_URLS", "OPENAI_API_KEY", "TOWN_API_KEY", "TOWN_MODEL",
                 "TOWN_EMBEDDED_MODEL", "TOWN_CONFIG", "TOWN_CONCURRENCY", "TOWN_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_a_sound_setup_with_a_server_passes_and_says_where_each_setting_came_from(tmp_path, monkeypatch):
    (tmp_path / "town.toml").write_text("[llm]\nretries = 4\n")
    monkeypatch.setenv("TOWN_CONCURRENCY", "3")
    with FakeOpenAIServer(model="served-model") as srv:
        res = CliRunner().invoke(cli, ["doctor", "--base-url", srv.url])
    out = res.stdout
    assert res.exit_code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("ok   python          Python 3.")
    assert lines[1].startswith("ok   packages        town ")
    assert "note embedded model  not used: an endpoint is configured" in lines
    assert f"ok   endpoint        {srv.url}: /models lists served-model" in lines
    assert any(line.startswith("ok   embedder        all-MiniLM-L6-v2 embedded a sentence (384 numbers)") for line in lines)
    assert any(line.startswith("ok   chromadb") for line in lines)
    assert any(line.startswith(("ok   display", "note display")) for line in lines)
    assert f"     base_urls          {srv.url}  (flag)" in lines
    assert "     concurrency        3  (environment TOWN_CONCURRENCY)" in lines
    assert f"     retries            4  ({tmp_path / 'town.toml'})" in lines
    assert "     embedded_model     1.5b  (default)" in lines
    assert "     small_steps        none: no small model first (cascade off)  (default)" in lines
    assert lines[-1] == "all checks passed"


def test_the_cascade_shows_its_steps_and_checks_the_small_endpoint(monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("TOWN_SMALL_STEPS", "perceive_importance,react_decide")
    monkeypatch.setenv("TOWN_SMALL_BASE_URLS", f"http://127.0.0.1:{port}/v1")
    with FakeOpenAIServer(model="served-model") as srv:
        res = CliRunner().invoke(cli, ["doctor", "--base-url", srv.url])
    lines = res.stdout.splitlines()
    assert res.exit_code == 1, res.stdout
    assert f"ok   endpoint        {srv.url}: /models lists served-model" in lines
    assert any(line.startswith(f"FAIL small endpoint  http://127.0.0.1:{port}/v1: /models did not answer")
               for line in lines), lines
    assert "     small_steps        perceive_importance, react_decide  (environment TOWN_SMALL_STEPS)" in lines


def test_a_missing_model_file_fails_and_says_how_to_get_it(tmp_path, monkeypatch):
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setenv("TOWN_CACHE_DIR", str(empty))
    res = CliRunner().invoke(cli, ["doctor", "--model", "0.5b"])
    assert res.exit_code == 1, res.stdout
    lines = res.stdout.splitlines()
    i = lines.index(f"FAIL embedded model  0.5b: {empty / mf.MODEL_SPECS['0.5b'].file_name} not found")
    assert lines[i + 1].strip().startswith("what to do:") and "python -m town model 0.5b" in lines[i + 1]
    assert "note endpoint        none configured: the embedded model answers" in res.stdout
    assert "     embedded_model     0.5b  (flag)" in lines
    assert lines[-1] == "1 check(s) failed"
    assert list(empty.iterdir()) == []  # doctor checks, it does not join


def test_an_unreachable_endpoint_fails_with_its_url_redacted():
    port = _closed_port()
    res = CliRunner().invoke(cli, ["doctor", "--base-url", f"http://user:s3cret@127.0.0.1:{port}/v1"])
    assert res.exit_code == 1, res.stdout
    line = next(line for line in res.stdout.splitlines() if line.startswith("FAIL endpoint"))
    assert f"http://***@127.0.0.1:{port}/v1: /models did not answer" in line
    assert "s3cret" not in res.stdout
    assert "what to do: start the server or fix the URL" in res.stdout


def test_the_model_check_trusts_the_verified_marker_unless_asked_to_rehash(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWN_CACHE_DIR", str(tmp_path))
    spec = mf.MODEL_SPECS["0.5b"]
    fake = tmp_path / spec.file_name
    with fake.open("wb") as fh:  # the pinned size, sparse, but not the pinned bytes
        fh.truncate(spec.size_bytes)
    settings = agent_settings(embedded_model="0.5b")
    assert check_model(settings).status == "fail"  # no marker: not verified
    mf._write_marker(fake, spec)  # as ensure_model leaves it after a successful join
    ok = check_model(settings)
    assert (ok.status, ok.detail) == ("ok", f"0.5b: {fake} (sha256 verified by its marker)")
    rehashed = check_model(settings, rehash=True)
    assert rehashed.status == "fail" and "does not match its pinned sha256" in rehashed.detail
    os.utime(fake, ns=(0, 0))  # touched since it was verified: the marker no longer vouches for it
    assert check_model(settings).status == "fail"
