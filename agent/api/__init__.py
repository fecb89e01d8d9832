"""HTTP API of the agent app (thin DRF views)."""
