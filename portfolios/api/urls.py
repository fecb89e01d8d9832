"""URL routes of the auth and data API (mounted under ``/api/v1/``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from portfolios.api import auth, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/login", auth.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", auth.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", auth.MeView.as_view(), name="auth-me"),
    path("data/portfolios", views.PortfolioListView.as_view(), name="portfolio-list"),
    path("data/portfolios/<uuid:portfolio_id>", views.PortfolioDetailView.as_view(), name="portfolio-detail"),
    path("data/portfolios/<uuid:portfolio_id>/positions", views.PositionListView.as_view(), name="position-list"),
    path(
        "data/portfolios/<uuid:portfolio_id>/positions/import",
        views.PositionImportView.as_view(),
        name="position-import",
    ),
    path("data/positions/<uuid:position_id>", views.PositionDetailView.as_view(), name="position-detail"),
]
