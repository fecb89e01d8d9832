"""Every admin changelist and change page answers 200 for staff and redirects anonymous users."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _admin_urls():
    for model, _ in admin.site._registry.items():
        meta = model._meta
        yield meta, reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")


def test_every_changelist_and_change_page_answers_200_for_staff(client, staff_user, demo_data):
    client.force_login(staff_user)
    checked = 0
    for meta, url in _admin_urls():
        assert client.get(url).status_code == 200, url
        obj = meta.model.objects.order_by().first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert client.get(change).status_code == 200, change
        checked += 1
    assert checked >= 4


def test_anonymous_users_are_redirected_to_login(client, demo_data):
    for _, url in _admin_urls():
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_portfolio_page_shows_its_positions_inline(client, staff_user, demo_data):
    client.force_login(staff_user)
    url = reverse("admin:portfolios_portfolio_change", args=["1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"])
    body = client.get(url).content.decode()
    assert body.count('name="positions-') > 16 and "FXNAX" in body


def test_the_admin_refuses_a_benchmark_without_prices_and_upper_cases_a_good_one(owner) -> None:
    from portfolios.admin import PortfolioAdminForm

    data = {"user": owner.pk, "name": "Benchmarked", "description": "", "currency": "USD", "equity_balance": ""}
    bad = PortfolioAdminForm(data={**data, "benchmark_symbol": "NOPRICES"})
    assert not bad.is_valid() and "No prices are stored" in bad.errors["benchmark_symbol"][0]
    good = PortfolioAdminForm(data={**data, "benchmark_symbol": "iwm"})  # a factor proxy: always priced
    assert good.is_valid(), good.errors
    assert good.cleaned_data["benchmark_symbol"] == "IWM"
