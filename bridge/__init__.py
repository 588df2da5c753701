"""Desktop bridge of the voice agent: realtime session, tool routing, Windows-MCP."""
