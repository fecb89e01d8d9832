"""The web app's navigation, in one place: the tabs of a portfolio's pages.

Adding a portfolio page (what-if, limits, …) takes four small pieces:

1. a view decorated with :func:`web.views.common.portfolio_page` (login, ownership — another
   user's portfolio is a 404 page — and the ``portfolio`` argument);
2. a URL in ``web/urls.py`` named after the tab's ``key``, taking ``portfolio_id``;
3. a template that extends ``web/portfolio_base.html`` and fills its ``content`` block;
4. a :class:`PortfolioTab` in :data:`PORTFOLIO_TABS` below.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class PortfolioTab:
    """A page of a portfolio: ``key`` is also its URL name in the ``web`` namespace."""

    key: str
    label: str
    shortcut: str = ""  # accesskey (Alt+Shift+<key> in most browsers)


PORTFOLIO_TABS: list[PortfolioTab] = [
    PortfolioTab("dashboard", "Dashboard", "d"),
    PortfolioTab("positions", "Positions", "p"),
    PortfolioTab("chat", "Chat", "c"),
    PortfolioTab("what_if", "What-if", "w"),
    PortfolioTab("limits", "Limits", "l"),
    PortfolioTab("settings", "Settings", "s"),
]


def portfolio_tabs(*, portfolio_id: uuid.UUID, active: str) -> list[dict[str, object]]:
    """The tabs with their URLs for one portfolio, the ``active`` one marked."""
    return [
        {
            "key": tab.key,
            "label": tab.label,
            "shortcut": tab.shortcut,
            "url": reverse(f"web:{tab.key}", kwargs={"portfolio_id": portfolio_id}),
            "active": tab.key == active,
        }
        for tab in PORTFOLIO_TABS
    ]
