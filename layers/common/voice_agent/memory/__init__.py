"""Long-term memory engine: embedding, vector storage, retrieval and the memory service."""
