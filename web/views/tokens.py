"""The personal access tokens page: list, create (the token shown this once), revoke with a confirmation.

Everything goes through ``agent.access`` — the same services as ``/api/v1/agent/tokens`` — so a token made
here is stored the same way (its SHA-256 only) and authenticates MCP clients at ``/mcp`` and the API with
``Authorization: Bearer``. Another user's token is the 404 page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from agent.access import access_token_revoke, access_tokens_for_user
from agent.models import AccessToken
from core.exceptions import NotFoundError
from web.settings_forms import AccessTokenForm
from web.views.common import not_found_page, parse_uuid


def _token_rows(user: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for token in access_tokens_for_user(user=user):
        if token.revoked_at is not None:
            state = "revoked"
        elif token.expires_at is not None and token.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        rows.append({"token": token, "state": state, "portfolios": list(token.portfolios.all())})
    return rows


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def access_tokens(request: HttpRequest) -> HttpResponse:
    """The list and the create form; a created token's value is in this one response only (never cached)."""
    user: Any = request.user
    form = AccessTokenForm(request.POST or None, user=user)
    created: tuple[AccessToken, str] | None = None
    if request.method == "POST" and form.is_valid():
        created = form.save()
        if created is not None:
            form = AccessTokenForm(user=user)
    context = {
        "form": form,
        "rows": _token_rows(user),
        "created": None if created is None else {"token": created[0], "raw": created[1]},
        "mcp_url": request.build_absolute_uri("/mcp"),
    }
    response = render(
        request,
        "web/account/tokens.html",
        context,
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def access_token_revoke_page(request: HttpRequest, token_id: str) -> HttpResponse:
    """GET: the confirmation; POST: revoke (idempotent) and back to the list."""
    user: Any = request.user
    key = parse_uuid(token_id)
    token = None if key is None else AccessToken.objects.filter(pk=key, user=user).first()
    if token is None:
        return not_found_page(request, "No such token among yours.")
    if request.method == "POST":
        try:
            access_token_revoke(user=user, token_id=token.pk)
        except NotFoundError:
            return not_found_page(request, "No such token among yours.")
        messages.success(request, f"Revoked {token.name} ({token.prefix}…): it no longer works.")
        return redirect("web:access_tokens")
    return render(request, "web/account/token_revoke.html", {"token": token})
