"""The web app's pages (namespace ``web``) and the browsable API's session login (``rest_framework``)."""

from __future__ import annotations

from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from web.views import auth, chat, limits, portfolios, positions, tokens, whatif

app_name = "web"

urlpatterns = [
    path("", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("account/password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("account/tokens/", tokens.access_tokens, name="access_tokens"),
    path("account/tokens/<str:token_id>/revoke/", tokens.access_token_revoke_page, name="access_token_revoke"),
    path("portfolios/", portfolios.portfolio_list, name="portfolio_list"),
    # Ids are matched as text so that a malformed one gets the same 404 page as another user's.
    path("portfolios/<str:portfolio_id>/", portfolios.dashboard, name="dashboard"),
    path("portfolios/<str:portfolio_id>/positions/", positions.positions, name="positions"),
    path("portfolios/<str:portfolio_id>/positions/new/", positions.position_new, name="position_new"),
    path("portfolios/<str:portfolio_id>/positions/import/", positions.positions_import, name="positions_import"),
    path("positions/<str:position_id>/edit/", positions.position_edit, name="position_edit"),
    path("positions/<str:position_id>/close/", positions.position_close, name="position_close"),
    path("positions/<str:position_id>/delete/", positions.position_delete, name="position_delete"),
    path("portfolios/<str:portfolio_id>/chat/", chat.chat, name="chat"),
    path("portfolios/<str:portfolio_id>/chat/conversations/", chat.chat_conversations, name="chat_conversations"),
    path("portfolios/<str:portfolio_id>/what-if/", whatif.what_if, name="what_if"),
    path("portfolios/<str:portfolio_id>/limits/", limits.limits, name="limits"),
    path("portfolios/<str:portfolio_id>/limits/new/", limits.limit_new, name="limit_new"),
    path("limits/<str:limit_id>/edit/", limits.limit_edit, name="limit_edit"),
    path("limits/<str:limit_id>/delete/", limits.limit_delete, name="limit_delete"),
    path("portfolios/<str:portfolio_id>/settings/", limits.portfolio_settings, name="settings"),
    path("alerts/<str:alert_id>/acknowledge/", whatif.alert_acknowledge_page, name="alert_acknowledge"),
    # Browsers ask for /favicon.ico on pages without an icon link (the API's, Swagger's).
    path("favicon.ico", RedirectView.as_view(url=static("web/img/favicon.svg"), permanent=True)),
]

# DRF's browsable API links to ``rest_framework:login`` / ``rest_framework:logout``: the same login
# view (throttled, case-insensitive email) with DRF's template.
api_auth_urlpatterns = [
    path("login/", auth.LoginView.as_view(template_name="rest_framework/login.html"), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
]
