"""Login at ``/`` (also the browsable API's ``/api-auth/login/``), logout, password change.

Session authentication with Django's views and CSRF; the same accounts as the API. Login attempts
share the API login's throttles (per client IP and per email, counted in the same cache), so a
password-guessing run gains nothing by switching from ``POST /api/v1/auth/login`` to the form.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy

from core.throttling import login_throttle_wait
from portfolios.demo import DEMO_PASSWORD, load_fixture


@functools.cache
def _demo_fixture_accounts() -> tuple[tuple[str, str], ...]:
    return tuple((u["email"], u.get("full_name", "")) for u in load_fixture()["users"])


def demo_accounts() -> list[dict[str, str]]:
    """The demo users that exist in this database (after ``seed_demo``/``make demo``), for the login
    page's hint; none in a deployment that never seeded the demo. One query."""
    accounts = dict(_demo_fixture_accounts())
    try:
        present = set(
            get_user_model().objects.filter(email__in=list(accounts), is_active=True).values_list("email", flat=True)
        )
    except DatabaseError:  # not migrated yet, or the database is down: the form itself still shows
        return []
    return [{"email": email, "name": accounts[email]} for email in accounts if email in present]


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form; the email is case-insensitive, as in the API's login."""

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username") or "").strip().lower()


class LoginView(auth_views.LoginView):
    """Django's login view with the email form, the shared throttles and a 429 page when over them."""

    authentication_form = EmailAuthenticationForm
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.template_name == LoginView.template_name:
            context["demo_accounts"] = demo_accounts()
            context["demo_password"] = DEMO_PASSWORD
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = login_throttle_wait(request)
        if wait is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form_class()(request=request, initial={"username": request.POST.get("username", "")})
        retry_after = max(1, int(wait + 0.999))
        response = self.render_to_response(self.get_context_data(form=form, throttled_s=retry_after))
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "web/password_change.html"
    success_url = reverse_lazy("web:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "web/password_change_done.html"


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a logout link cannot be triggered by another site's image or link."""
