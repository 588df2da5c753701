"""Long-term memory engine: embedding, vector storage, retrieval, the use cases and the worker."""
