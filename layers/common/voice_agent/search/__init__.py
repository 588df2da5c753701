"""Web search through Tavily, compacted for speech."""
