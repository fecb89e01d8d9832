"""URL routes of the marketdata API (mounted under ``/api/v1/``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from marketdata.api.views import PriceBarsView

urlpatterns: list[URLPattern | URLResolver] = [
    path("data/prices/<str:symbol>", PriceBarsView.as_view(), name="price-bars"),
]
