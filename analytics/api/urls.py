"""URL routes of the analytics API, the factor exposures of the data API and the staff batch admin."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics.api import views

PORTFOLIO = "analytics/portfolios/<uuid:portfolio_id>"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{PORTFOLIO}/overview", views.overview_view, name="analytics-overview"),
    path(f"{PORTFOLIO}/greeks", views.GreeksView.as_view(), name="analytics-greeks"),
    path(f"{PORTFOLIO}/stress_test", views.StressTestView.as_view(), name="analytics-stress-test"),
    path(f"{PORTFOLIO}/market_risk", views.MarketRiskView.as_view(), name="analytics-market-risk"),
    path(f"{PORTFOLIO}/correlations", views.CorrelationsView.as_view(), name="analytics-correlations"),
    path(f"{PORTFOLIO}/snapshots", views.SnapshotListView.as_view(), name="analytics-snapshots"),
    path(f"{PORTFOLIO}/var", views.VarView.as_view(), name="analytics-var"),
    path(
        "data/portfolios/<uuid:portfolio_id>/factor_exposures",
        views.FactorExposuresView.as_view(),
        name="factor-exposures",
    ),
    path("admin/batch/run", views.BatchRunView.as_view(), name="admin-batch-run"),
    path("admin/batch/runs", views.BatchRunListView.as_view(), name="admin-batch-runs"),
    path("admin/batch/runs/<uuid:run_id>", views.BatchRunDetailView.as_view(), name="admin-batch-run-detail"),
]
