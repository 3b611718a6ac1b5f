"""Memory-store fixtures: a real ``chroma run`` server on loopback and stores on either backend.

Import the fixtures into a test module (``from tests._chroma_fixtures import chroma_server, ...``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from agents.memory.chroma_server import ChromaServer, start_chroma_server
from agents.memory.stream import MemoryStore

T0 = datetime(2023, 2, 13, 8, 0)
BACKENDS = ["persistent", pytest.param("http", marks=pytest.mark.chroma_server)]

_namespaces = itertools.count()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server for the whole test session; yields (host, port)."""
    server: ChromaServer = start_chroma_server(tmp_path_factory.mktemp("chroma_server") / "data")
    try:
        yield server.host, server.port
    finally:
        server.stop()


@pytest.fixture
def make_store(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Callable[[], MemoryStore]:
    """A factory of stores on the backend named by the ``backend`` fixture (each test module parametrises it).

    Every call on the http backend returns a store on the same server and namespace (a reopen);
    every call on the persistent backend opens the same folder. Each test gets its own namespace.
    """
    namespace = f"t{next(_namespaces)}"
    if backend == "persistent":
        return lambda: MemoryStore.persistent(tmp_path / "memory", namespace=namespace)
    if backend == "http":
        host, port = request.getfixturevalue("chroma_server")
        return lambda: MemoryStore.http(host, port, namespace=namespace)
    raise ValueError(f"unknown memory backend {backend!r}")


@pytest.fixture
def store(make_store: Callable[[], MemoryStore]) -> MemoryStore:
    return make_store()
