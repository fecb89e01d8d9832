"""Risk analytics: pure engines over arrays, services that load/compute/persist, the daily batch."""
