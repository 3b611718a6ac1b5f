"""Chroma server mode: the `chroma run` lifecycle and a memory store over HTTP.

The memory and retrieval behaviour tests themselves run on both backends in
tests/test_memory.py and tests/test_retrieve.py (their ``http`` cases carry the
``chroma_server`` mark too, so ``pytest -m chroma_server`` selects every server test).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from agents.memory.chroma_server import ChromaServer, start_chroma_server
from agents.memory.stream import MemoryStore
from tests._chroma_fixtures import T0, chroma_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.chroma_server


def test_memory_survives_a_server_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_chroma_server(data) as first:
        assert first.heartbeat()
        s = MemoryStore.from_url(first.url, namespace="runA").stream("Isabella Rodriguez")
        assert MemoryStore.from_url(first.url, namespace="runA").backend == "http"
        s.add("thought", "I will host a Valentine's Day party", created=T0, importance=8)
        s.add("observation", "Maria is at the cafe", created=T0 + timedelta(minutes=5), importance=3)
    assert not first.heartbeat()
    assert first.process is not None and first.process.poll() is not None

    with start_chroma_server(data) as second:  # a fresh process (and port) on the same folder
        store = MemoryStore.http(second.host, second.port, namespace="runA")
        s2 = store.stream("Isabella Rodriguez")
        assert [r.text for r in s2.recent(5)] == ["Maria is at the cafe", "I will host a Valentine's Day party"]
        assert s2.add("thought", "buy balloons", created=T0 + timedelta(hours=1), importance=4).id == "Isabella_Rodriguez-000002"
        top = s2.retrieve("party plans", now=T0 + timedelta(hours=2), k=1)
        assert top[0].record.text == "I will host a Valentine's Day party"


def test_runs_share_one_server_by_namespace(chroma_server: tuple[str, int]) -> None:
    host, port = chroma_server
    a = MemoryStore.from_url(f"http://{host}:{port}", namespace="shareA").stream("Klaus Mueller")
    b = MemoryStore.from_url(f"http://{host}:{port}/", namespace="shareB").stream("Klaus Mueller")
    a.add("thought", "run A only", created=T0, importance=2)
    assert (a.count(), b.count()) == (1, 0)
    assert b.add("thought", "run B only", created=T0, importance=2).id == a.recent(1)[0].id  # same ids, separate collections
    assert b.recent(1)[0].text == "run B only"


def test_busy_port_is_refused(chroma_server: tuple[str, int], tmp_path: Path) -> None:
    host, port = chroma_server
    with pytest.raises(RuntimeError, match="already in use"):
        start_chroma_server(tmp_path / "other", port, host=host)


def test_missing_cli_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match="chroma CLI not found"):
        ChromaServer(tmp_path / "data").start()


def test_server_that_dies_reports_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "chroma"
    fake.write_text("#!/bin/sh\necho 'boom: cannot open database' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(ChromaServer, "executable", staticmethod(lambda: fake))
    with pytest.raises(RuntimeError, match="exited with 3.*boom: cannot open database"):
        start_chroma_server(tmp_path / "data", timeout_s=20)
