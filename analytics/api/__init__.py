"""HTTP API of the analytics app (thin DRF views)."""
