"""URL map: admin, health, OpenAPI docs, the versioned API and the web app's pages."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import health_view
from core.throttling import login_throttled
from web.urls import api_auth_urlpatterns

handler400 = "core.errors.json_400"
handler403 = "core.errors.json_403"
handler404 = "core.errors.json_404"
handler500 = "core.errors.json_500"

admin.site.site_header = "SigmaSight administration"
admin.site.site_title = "SigmaSight admin"

urlpatterns = [
    # The admin's login spends the same per-IP and per-email budgets as the API's and the web's.
    path("admin/login/", login_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path("health", health_view, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP script-src 'self').
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema")),
    path("api/v1/", include("portfolios.api.urls")),
    path("api/v1/", include("marketdata.api.urls")),
    path("api/v1/", include("analytics.api.urls")),
    path("api/v1/", include("agent.api.urls")),
    # The web app: login at /, portfolios, dashboard, positions, chat; DRF's session login.
    path("api-auth/", include((api_auth_urlpatterns, "rest_framework"))),
    path("", include("web.urls")),
]
