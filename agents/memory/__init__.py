"""An agent's memory: the stream in chromadb, retrieval (recency, importance, relevance, BM25), embeddings."""
