"""Cross-cutting plumbing: error format, pagination, access log, health checks, base command."""
