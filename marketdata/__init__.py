"""Market data: instruments, daily price bars, option quotes, providers, NYSE calendar, sync."""
