"""HTTP API of the marketdata app (thin DRF views)."""
