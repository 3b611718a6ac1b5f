"""The memory stream: every agent's observations, thoughts, plans, chats and reflections.

Records live in chroma, one collection per agent, either on disk
(:meth:`MemoryStore.persistent`, chromadb.PersistentClient) or on a Chroma server
(:meth:`MemoryStore.http`, chromadb.HttpClient). Each :class:`MemoryStream` also keeps an
in-process mirror of its records (loaded once from chroma when the stream is opened) so
``recent``/``since``/``get`` never hit chroma, and a BM25 keyword index over the texts,
rebuilt lazily after changes. Embeddings are always computed by our own offline
:class:`~agents.memory.embeddings.MiniLMEmbedding`; chroma's default embedder is never used.

All times are GAME times. Ids are deterministic: ``<agent slug>-<counter:06d>``; the
counter continues after reopening a stream.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chromadb
import numpy as np
from chromadb.config import Settings
from rank_bm25 import BM25L

from agents.memory import retrieve as _retrieve
from agents.memory.embeddings import MiniLMEmbedding, default_embedder
from agents.memory.records import MEMORY_KINDS, MemoryKind, MemoryRecord
from agents.memory.retrieve import RetrievalWeights, ScoredMemory

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_TOKEN_RE = re.compile(r"[a-z0-9]+")
_ADD_KEYS = {"kind", "text", "created", "importance", "evidence", "keywords", "private"}
_ADD_REQUIRED = {"kind", "text", "created", "importance"}
_PAGE = 1000


def _epoch(t: datetime) -> float:
    """Seconds since the epoch; naive game times are read as UTC so the value is machine-independent."""
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _slug(agent: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", agent).strip("_")[:60]
    if not slug:
        raise ValueError(f"agent name {agent!r} has no letters or digits")
    return slug


# Function words that would make every memory a keyword match for questions such as "What do I know about X?".
_STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between both but by can
    could did do does doing down during each few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)


def _tokens(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords, for the BM25 keyword index."""
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in _STOPWORDS]


def _check_kinds(kinds: set[str] | None) -> None:
    if kinds is not None:
        unknown = set(kinds) - MEMORY_KINDS
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {sorted(MEMORY_KINDS)}, got {sorted(kinds)}")


def _to_metadata(r: MemoryRecord) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "created": _epoch(r.created),
        "created_iso": r.created.isoformat(),
        "last_accessed": _epoch(r.last_accessed),
        "last_accessed_iso": r.last_accessed.isoformat(),
        "importance": r.importance,
        "evidence": json.dumps(r.evidence),
        "keywords": json.dumps(r.keywords),
        "private": r.private,
    }


def _from_chroma(agent: str, id_: str, text: str, meta: dict[str, Any]) -> MemoryRecord:
    try:
        return MemoryRecord(
            id=id_,
            agent=agent,
            kind=meta["kind"],
            text=text,
            created=datetime.fromisoformat(meta["created_iso"]),
            last_accessed=datetime.fromisoformat(meta["last_accessed_iso"]),
            importance=meta["importance"],
            evidence=json.loads(meta["evidence"]),
            keywords=json.loads(meta["keywords"]),
            private=meta.get("private", False),  # stores written before the mark existed have none
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"memory {id_!r} of {agent!r} in chroma is malformed: {exc}") from exc


class MemoryStore:
    """Opens per-agent memory streams on one chroma client (a local folder or a Chroma server)."""

    def __init__(self, client: ClientAPI, *, namespace: str, backend: str, embedder: MiniLMEmbedding | None = None) -> None:
        if not _NAMESPACE_RE.match(namespace):
            raise ValueError(f"memory namespace {namespace!r} must match {_NAMESPACE_RE.pattern}")
        self.client = client
        self.namespace = namespace
        self.backend = backend
        self.embedder = embedder or default_embedder()
        self._streams: dict[str, MemoryStream] = {}

    @classmethod
    def persistent(cls, path: Path, *, embedder: MiniLMEmbedding | None = None, namespace: str = "town") -> MemoryStore:
        """A store in a local folder (chromadb.PersistentClient); the folder is created if needed."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"memory path {path} exists and is not a folder")
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        return cls(client, namespace=namespace, backend="persistent", embedder=embedder)

    @classmethod
    def http(cls, host: str, port: int, *, namespace: str, embedder: MiniLMEmbedding | None = None) -> MemoryStore:
        """A store on a running Chroma server (chromadb.HttpClient)."""
        if not 0 < port < 65536:
            raise ValueError(f"chroma port must be in 1..65535, got {port}")
        client = chromadb.HttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))
        return cls(client, namespace=namespace, backend="http", embedder=embedder)

    @classmethod
    def from_url(cls, url_or_path: str, *, namespace: str) -> MemoryStore:
        """``http://host:port`` opens a Chroma server store; anything else is a local folder."""
        m = re.match(r"^https?://(?P<host>[^:/]+):(?P<port>\d+)/?$", url_or_path)
        if url_or_path.startswith(("http://", "https://")):
            if not m:
                raise ValueError(f"chroma url {url_or_path!r} must look like http://HOST:PORT")
            return cls.http(m["host"], int(m["port"]), namespace=namespace)
        return cls.persistent(Path(url_or_path), namespace=namespace)

    def collection_name(self, agent: str) -> str:
        """Chroma collection name of ``agent``: namespace, readable slug, and a hash so distinct names never collide."""
        digest = hashlib.sha1(agent.encode()).hexdigest()[:8]
        return f"{self.namespace}-{_slug(agent)}-{digest}"

    def stream(self, agent: str) -> MemoryStream:
        """The agent's stream (created if new, loaded if it exists); the same object on every call."""
        if agent not in self._streams:
            collection = self.client.get_or_create_collection(
                name=self.collection_name(agent),
                embedding_function=self.embedder,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"agent": agent, "namespace": self.namespace},
            )
            owner = (collection.metadata or {}).get("agent")
            if owner != agent:
                raise ValueError(f"chroma collection {collection.name!r} belongs to {owner!r}, not {agent!r}")
            self._streams[agent] = MemoryStream(agent, collection, self.embedder)
        return self._streams[agent]

    def agents(self) -> list[str]:
        """Agents that have a stream in this store's namespace."""
        prefix = f"{self.namespace}-"
        names = []
        for col in self.client.list_collections():
            if col.name.startswith(prefix) and col.metadata and col.metadata.get("namespace") == self.namespace:
                names.append(col.metadata["agent"])
        return sorted(names)

    def drop(self, agent: str) -> None:
        """Delete the agent's stream from chroma."""
        self._streams.pop(agent, None)
        self.client.delete_collection(self.collection_name(agent))


class MemoryStream:
    """One agent's memories: chroma collection + in-process mirror + BM25 keyword index."""

    def __init__(self, agent: str, collection: Collection, embedder: MiniLMEmbedding) -> None:
        self.agent = agent
        self.collection = collection
        self.embedder = embedder
        self.weights: RetrievalWeights | None = None  # retrieval weights when a call names none (None: the defaults)
        self._slug = _slug(agent)
        self._records: dict[str, MemoryRecord] = {}
        self._timeline: list[tuple[float, str]] = []  # (created epoch, id), oldest first
        self._tokens: dict[str, list[str]] = {}
        self._bm25: BM25L | None = None
        self._bm25_ids: list[str] = []
        self._bm25_dirty = True
        self._next = 0
        self._load()

    # -- loading and bookkeeping -------------------------------------------------------

    def _load(self) -> None:
        offset = 0
        while True:
            page = self.collection.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for id_, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                self._remember(_from_chroma(self.agent, id_, doc, dict(meta)))
            if len(page["ids"]) < _PAGE:
                break
            offset += _PAGE

    def _remember(self, r: MemoryRecord) -> None:
        self._records[r.id] = r
        bisect.insort(self._timeline, (_epoch(r.created), r.id))
        self._tokens[r.id] = _tokens(" ".join([r.text, *r.keywords]))
        self._bm25_dirty = True
        prefix, _, counter = r.id.rpartition("-")
        if prefix != self._slug or not counter.isdigit():
            raise ValueError(f"memory id {r.id!r} does not belong to stream {self.agent!r}")
        self._next = max(self._next, int(counter) + 1)

    # -- writing ------------------------------------------------------------------------

    def add(
        self,
        kind: MemoryKind,
        text: str,
        *,
        created: datetime,
        importance: int,
        evidence: Sequence[str] = (),
        keywords: Sequence[str] = (),
        private: bool = False,
    ) -> MemoryRecord:
        """Store one memory; ``last_accessed`` starts at ``created``."""
        return self.add_many(
            [{"kind": kind, "text": text, "created": created, "importance": importance, "evidence": evidence,
              "keywords": keywords, "private": private}]
        )[0]

    def add_many(self, items: list[dict[str, Any]]) -> list[MemoryRecord]:
        """Store several memories in one chroma round trip. Each item has the keyword arguments of :meth:`add`."""
        if not items:
            return []
        records = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise TypeError(f"memory item #{n} is {type(item).__name__}, expected dict")
            unknown, missing = set(item) - _ADD_KEYS, _ADD_REQUIRED - set(item)
            if unknown or missing:
                raise ValueError(f"memory item #{n}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
            evidence = list(item.get("evidence", ()))
            unknown_ev = [e for e in evidence if e not in self._records and e not in {r.id for r in records}]
            if unknown_ev:
                raise ValueError(f"memory item #{n} cites unknown evidence ids {unknown_ev} in stream {self.agent!r}")
            records.append(
                MemoryRecord(
                    id=f"{self._slug}-{self._next + n:06d}",
                    agent=self.agent,
                    kind=item["kind"],
                    text=item["text"],
                    created=item["created"],
                    last_accessed=item["created"],
                    importance=item["importance"],
                    evidence=evidence,
                    keywords=list(item.get("keywords", ())),
                    private=item.get("private", False),
                )
            )
        vectors = self.embedder.embed_array([r.text for r in records])
        self.collection.add(
            ids=[r.id for r in records],
            embeddings=vectors,
            documents=[r.text for r in records],
            metadatas=[_to_metadata(r) for r in records],
        )
        for r in records:
            self._remember(r)
        return records

    def forget_from(self, t: datetime) -> int:
        """Delete memories created at or after game time ``t`` (resuming a run killed mid-tick); return how many.

        Ids are handed out again from the highest one kept, so a resumed run numbers its new memories
        exactly as the uninterrupted run would have.
        """
        cut = _epoch(t)
        doomed = [id_ for created, id_ in self._timeline if created >= cut]
        if not doomed:
            return 0
        self.collection.delete(ids=doomed)
        gone = set(doomed)
        for id_ in doomed:
            del self._records[id_]
            del self._tokens[id_]
        self._timeline = [(c, i) for c, i in self._timeline if i not in gone]
        self._next = max((int(i.rpartition("-")[2]) + 1 for i in self._records), default=0)
        self._bm25_dirty = True
        return len(doomed)

    def set_importance(self, scores: Mapping[str, int]) -> None:
        """Change memories' importance (a batched importance rating): ``{id: importance}``, one round trip.
        Nothing is written when any id is unknown or any score is out of range."""
        if scores:
            self._replace([self._get_one(i).model_copy(update={"importance": v}) for i, v in scores.items()])

    def touch(self, ids: Sequence[str], now: datetime) -> list[MemoryRecord]:
        """Set ``last_accessed`` of ``ids`` to ``now`` (game time); returns the updated records."""
        return self._replace([self._get_one(i).model_copy(update={"last_accessed": now}) for i in ids])

    def _replace(self, updated: list[MemoryRecord]) -> list[MemoryRecord]:
        # model_copy skips validation, so validate explicitly before writing.
        checked = [MemoryRecord.model_validate(r.model_dump()) for r in updated]
        self.collection.update(ids=[r.id for r in checked], metadatas=[_to_metadata(r) for r in checked])
        for r in checked:
            self._records[r.id] = r
        return checked

    # -- reading (mirror only) ----------------------------------------------------------

    def _get_one(self, id: str) -> MemoryRecord:
        try:
            return self._records[id]
        except KeyError:
            raise KeyError(f"no memory {id!r} in stream {self.agent!r}") from None

    def get(self, ids: Sequence[str]) -> list[MemoryRecord]:
        """Records by id, in the order asked; raises KeyError naming unknown ids."""
        missing = [i for i in ids if i not in self._records]
        if missing:
            raise KeyError(f"no memories {missing} in stream {self.agent!r}")
        return [self._records[i] for i in ids]

    def count(self, kinds: set[str] | None = None) -> int:
        """Number of memories (of the given kinds)."""
        _check_kinds(kinds)
        if kinds is None:
            return len(self._records)
        return sum(1 for r in self._records.values() if r.kind in kinds)

    def recent(self, n: int, kinds: set[str] | None = None) -> list[MemoryRecord]:
        """The ``n`` newest memories by ``created``, newest first."""
        if n < 0:
            raise ValueError(f"recent(n) needs n >= 0, got {n}")
        _check_kinds(kinds)
        out: list[MemoryRecord] = []
        for _, id_ in reversed(self._timeline):
            if len(out) >= n:
                break
            r = self._records[id_]
            if kinds is None or r.kind in kinds:
                out.append(r)
        return out

    def since(self, t: datetime, kinds: set[str] | None = None) -> list[MemoryRecord]:
        """Memories created at or after ``t``, oldest first."""
        _check_kinds(kinds)
        start = bisect.bisect_left(self._timeline, (_epoch(t), ""))
        records = (self._records[id_] for _, id_ in self._timeline[start:])
        return [r for r in records if kinds is None or r.kind in kinds]

    # -- retrieval ----------------------------------------------------------------------

    def retrieve(
        self,
        query: str,
        *,
        now: datetime,
        k: int = 8,
        kinds: set[str] | None = None,
        weights: RetrievalWeights | None = None,
        touch: bool = True,
    ) -> list[ScoredMemory]:
        """Best ``k`` memories for ``query`` at game time ``now`` (see agents.memory.retrieve); touches them by default."""
        _check_kinds(kinds)
        return _retrieve.retrieve(
            self, query, now=now, k=k, kinds=kinds, weights=weights or self.weights or _retrieve.RetrievalWeights(),
            touch=touch,
        )

    def embed_query(self, query: str) -> np.ndarray:
        """The query's unit vector."""
        return self.embedder.embed_array([query])[0]

    def vector_search(self, qvec: np.ndarray, n: int, kinds: set[str] | None) -> dict[str, float]:
        """Chroma nearest neighbours: id -> cosine similarity, best first."""
        where = None if kinds is None else {"kind": {"$in": sorted(kinds)}}
        res = self.collection.query(query_embeddings=[qvec], n_results=n, where=where, include=["distances"])
        return {id_: 1.0 - float(d) for id_, d in zip(res["ids"][0], res["distances"][0], strict=True)}

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of ``ids`` (one chroma round trip)."""
        res = self.collection.get(ids=list(ids), include=["embeddings"])
        out = {id_: np.asarray(v, dtype=np.float32) for id_, v in zip(res["ids"], res["embeddings"], strict=True)}
        missing = [i for i in ids if i not in out]
        if missing:
            raise KeyError(f"chroma has no vectors for {missing} in stream {self.agent!r}")
        return out

    def keyword_scores(self, query: str, kinds: set[str] | None) -> dict[str, float]:
        """BM25 scores (> 0 only) of the memories (of ``kinds``) for ``query``."""
        if self._bm25_dirty:
            self._bm25_ids = list(self._records)
            corpus = [self._tokens[i] for i in self._bm25_ids]
            self._bm25 = BM25L(corpus) if any(corpus) else None
            self._bm25_dirty = False
        terms = list(dict.fromkeys(_tokens(query)))
        if self._bm25 is None or not terms:
            return {}
        scores = self._bm25.get_scores(terms)
        return {
            id_: float(s)
            for id_, s in zip(self._bm25_ids, scores, strict=True)
            if s > 0 and (kinds is None or self._records[id_].kind in kinds)
        }
