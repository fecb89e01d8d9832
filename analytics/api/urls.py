"""URL routes of the analytics API: one per registered result kind (and its earlier URLs), and the staff
batch admin."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from analytics.api import limits, views, whatif
from analytics.results import registry

PORTFOLIO = "analytics/portfolios/<uuid:portfolio_id>"


def result_urlpatterns() -> list[URLPattern]:
    """``analytics/portfolios/<id>/<kind>`` for every registered kind, named ``analytics-<kind>`` (with
    dashes); each earlier URL of a kind keeps answering, named ``<kind>-legacy-<n>``."""
    patterns = []
    for spec in registry.specs():
        url_name = spec.name.replace("_", "-")
        patterns.append(
            path(f"{PORTFOLIO}/{spec.name}", views.result_view(spec).as_view(), name=f"analytics-{url_name}")
        )
        for number, legacy in enumerate(spec.legacy_paths, start=1):
            route = legacy.replace("{portfolio_id}", "<uuid:portfolio_id>")
            view = views.result_view(spec, operation_id=f"{spec.name}_retrieve", tag=legacy.split("/", 1)[0])
            patterns.append(path(route, view.as_view(), name=f"{url_name}-legacy-{number}"))
    return patterns


urlpatterns: list[URLPattern | URLResolver] = [
    # Before the result routes: the limits kind's endpoint also takes POST (a new limit).
    path(f"{PORTFOLIO}/limits", limits.LimitsView.as_view(), name="analytics-limits"),
    path(f"{PORTFOLIO}/limits/definitions", limits.LimitDefinitionsView.as_view(), name="limit-definitions"),
    path("analytics/limits/<uuid:limit_id>", limits.LimitDetailView.as_view(), name="limit-detail"),
    path("alerts", limits.AlertListView.as_view(), name="alerts"),
    path("alerts/<uuid:alert_id>/acknowledge", limits.AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    *[p for p in result_urlpatterns() if p.name != "analytics-limits"],  # served by LimitsView above
    path(f"{PORTFOLIO}/what_if", whatif.WhatIfView.as_view(), name="analytics-what-if"),
    path(f"{PORTFOLIO}/what_if/scenarios", whatif.WhatIfScenarioListView.as_view(), name="what-if-scenarios"),
    path(
        f"{PORTFOLIO}/what_if/scenarios/<uuid:scenario_id>",
        whatif.WhatIfScenarioDetailView.as_view(),
        name="what-if-scenario-detail",
    ),
    path("admin/batch/run", views.BatchRunView.as_view(), name="admin-batch-run"),
    path("admin/batch/runs", views.BatchRunListView.as_view(), name="admin-batch-runs"),
    path("admin/batch/runs/<uuid:run_id>", views.BatchRunDetailView.as_view(), name="admin-batch-run-detail"),
]
