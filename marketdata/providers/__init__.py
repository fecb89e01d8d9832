"""Market data providers behind one interface (``base.Provider``), chosen by name."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from marketdata.providers.base import Provider, ProviderError, SymbolUnavailable

PROVIDER_NAMES = ("simulated", "fmp", "polygon", "csv")

__all__ = ["PROVIDER_NAMES", "Provider", "ProviderError", "SymbolUnavailable", "get_provider"]


def get_provider(name: str | None = None) -> Provider:
    """The provider called ``name`` (default ``settings.MARKET_DATA_PROVIDER``), configured from settings.

    Raises ``ProviderError`` for an unknown name or a vendor provider without its API key.
    """
    name = (name or settings.MARKET_DATA_PROVIDER).lower()
    timeout = settings.MARKET_DATA_TIMEOUT_S
    budget = settings.MARKET_DATA_RETRY_BUDGET_S
    if name == "simulated":
        from marketdata.providers.simulated import SimulatedProvider

        return SimulatedProvider(world=settings.SIMULATED_WORLD)
    if name == "fmp":
        from marketdata.providers.fmp import FMPProvider

        return FMPProvider(
            api_key=settings.FMP_API_KEY, base_url=settings.FMP_BASE_URL, timeout_s=timeout, retry_budget_s=budget
        )
    if name == "polygon":
        from marketdata.providers.polygon import PolygonProvider

        return PolygonProvider(
            api_key=settings.POLYGON_API_KEY,
            base_url=settings.POLYGON_BASE_URL,
            plan=settings.POLYGON_PLAN,
            timeout_s=timeout,
            retry_budget_s=budget,
        )
    if name == "csv":
        from marketdata.providers.csv import CSVProvider

        default_dir = Path(settings.BASE_DIR) / "data" / "prices"
        return CSVProvider(path=Path(getattr(settings, "MARKET_DATA_CSV_DIR", default_dir)))
    raise ProviderError(f"Unknown market data provider {name!r}; choose one of {', '.join(PROVIDER_NAMES)}.")
