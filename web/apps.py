from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages for people: login, portfolios, dashboard, positions, chat (server-rendered + htmx)."""

    name = "web"
    verbose_name = "Web app"
