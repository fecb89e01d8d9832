"""AI agent: tool registry over the selectors, LLM providers, conversations, REST/SSE/websocket chat."""
