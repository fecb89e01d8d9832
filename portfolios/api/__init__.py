"""HTTP API of the portfolios app (thin DRF views)."""
