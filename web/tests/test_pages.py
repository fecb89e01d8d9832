"""Every page with Django's test client, for every access case: anonymous, owner, other user, staff."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from agent.models import Conversation
from agent.tests.factories import results_make
from portfolios.models import Portfolio, Position

pytestmark = pytest.mark.django_db


def _login(client: Client, email: str, password: str) -> Client:
    response = client.post(reverse("web:login"), {"username": email, "password": password})
    assert response.status_code == 302, response.content[:300]
    return client


@pytest.fixture
def owner_web(owner) -> Client:
    return _login(Client(), "owner@example.com", "owner-pass-1")


@pytest.fixture
def other_web(other_user) -> Client:
    return _login(Client(), "other@example.com", "other-pass-1")


@pytest.fixture
def staff_web(staff_user) -> Client:
    return _login(Client(), "staff@example.com", "staff-pass-1")


@pytest.fixture
def book(portfolio: Portfolio) -> Portfolio:
    """The owner's portfolio with stored results of every kind (hand-made, documented shapes)."""
    results_make(portfolio)
    return portfolio


def _portfolio_urls(portfolio: Portfolio) -> list[str]:
    return [
        reverse("web:dashboard", args=[portfolio.pk]),
        reverse("web:positions", args=[portfolio.pk]),
        reverse("web:position_new", args=[portfolio.pk]),
        reverse("web:positions_import", args=[portfolio.pk]),
        reverse("web:chat", args=[portfolio.pk]),
        reverse("web:chat_conversations", args=[portfolio.pk]),
    ]


def _position_urls(position: Position) -> list[str]:
    return [
        reverse("web:position_edit", args=[position.pk]),
        reverse("web:position_close", args=[position.pk]),
        reverse("web:position_delete", args=[position.pk]),
    ]


def test_an_anonymous_visitor_is_sent_to_the_login_page_from_every_page(book: Portfolio) -> None:
    position = book.positions.first()
    urls = [reverse("web:portfolio_list"), reverse("web:password_change"), *_portfolio_urls(book)]
    for url in [*urls, *_position_urls(position)]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:login") + "?next="), (url, response["Location"])


def test_the_owner_opens_every_page(owner_web: Client, book: Portfolio) -> None:
    position = book.positions.first()
    for url in [reverse("web:portfolio_list"), *_portfolio_urls(book), *_position_urls(position)]:
        response = owner_web.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert response["Content-Type"].startswith("text/html")


def test_another_users_portfolio_and_positions_are_a_404_page_everywhere(other_web: Client, book: Portfolio) -> None:
    position = book.positions.first()
    for url in [*_portfolio_urls(book), *_position_urls(position)]:
        response = other_web.get(url)
        assert response.status_code == 404, url
        assert b"Not found" in response.content and b"<html" in response.content
        assert book.name.encode() not in response.content and b"AAPL" not in response.content
    for url in _position_urls(position):
        assert other_web.post(url, {"exit_price": "1", "exit_date": "2026-11-20"}).status_code == 404
    assert Position.objects.filter(pk=position.pk, exit_date__isnull=True).exists()


def test_staff_see_only_their_own_portfolios_too(staff_web: Client, book: Portfolio) -> None:
    listing = staff_web.get(reverse("web:portfolio_list"))
    assert listing.status_code == 200 and book.name.encode() not in listing.content
    assert staff_web.get(reverse("web:dashboard", args=[book.pk])).status_code == 404
    assert b'href="/admin/"' in listing.content  # staff get the admin link, users do not


# Fixed values (an unknown id among them): test ids must be the same in every pytest-xdist worker's collection.
@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "5cf45994-b064-41ef-9c2a-4e6ab7019653", "00000000-0000-0000-0000-000000000000"]
)
def test_a_malformed_or_unknown_id_is_the_same_404_page(owner_web: Client, bad: str) -> None:
    for name in ("web:dashboard", "web:positions", "web:chat"):
        assert owner_web.get(reverse(name, args=[bad])).status_code == 404
    for name in ("web:position_edit", "web:position_close"):
        assert owner_web.get(reverse(name, args=[bad])).status_code == 404


def test_the_portfolio_list_shows_the_api_overview_figures(owner_web: Client, book: Portfolio) -> None:
    body = owner_web.get(reverse("web:portfolio_list")).content.decode()
    # results_make: market value 21,000, gross 34,000, leverage 0.34, simulated data
    assert "$21,000" in body and "$34,000" in body and "0.34×" in body
    assert "Simulated" in body and book.name in body


def test_a_portfolio_without_results_says_how_to_compute_them(owner_web: Client, portfolio: Portfolio) -> None:
    body = owner_web.get(reverse("web:dashboard", args=[portfolio.pk])).content.decode()
    assert "No analytics yet" in body and "run_batch" in body


def test_another_users_conversation_is_a_404_page(owner_web: Client, other_user, book: Portfolio) -> None:
    theirs = Portfolio.objects.create(user=other_user, name="Theirs", equity_balance=Decimal(1))
    conversation = Conversation.objects.create(user=other_user, portfolio=theirs, title="secret plans")
    response = owner_web.get(reverse("web:chat", args=[book.pk]) + f"?session={conversation.pk}")
    assert response.status_code == 404 and b"secret plans" not in response.content


def test_the_chat_page_lists_past_conversations_and_shows_the_open_one(owner_web: Client, owner, book) -> None:
    conversation = Conversation.objects.create(user=owner, portfolio=book, title="What is my VaR?")
    conversation.messages.create(sequence=0, role="user", content="What is my VaR?")
    conversation.messages.create(
        sequence=1,
        role="assistant",
        content="One-day 99% VaR is $2,380.",
        tool_calls=[{"id": "c1", "name": "get_var", "arguments": {}, "result": {"status": "ok"}}],
    )
    body = owner_web.get(reverse("web:chat", args=[book.pk]) + f"?session={conversation.pk}").content.decode()
    assert "One-day 99% VaR is $2,380." in body
    assert '<span class="tool-name">get_var</span>' in body
    assert f'data-session-id="{conversation.pk}"' in body and f'data-portfolio-id="{book.pk}"' in body
    listing = owner_web.get(reverse("web:chat_conversations", args=[book.pk])).content.decode()
    assert "What is my VaR?" in listing and "<html" not in listing


def test_the_dashboard_and_positions_pages_take_a_fixed_number_of_queries(
    owner_web: Client, book: Portfolio, django_assert_max_num_queries
) -> None:
    # session, user, portfolio, results (one query for every kind), snapshots, the overview answer's
    # snapshot (the API's own code), last batch run (its jobs
    # are one more when there is one), the
    # portfolio menu, the limits panel (its newest limits result, its open alerts): independent of how many
    # positions, scenarios, snapshots, limits or alerts there are.
    with django_assert_max_num_queries(10):
        assert owner_web.get(reverse("web:dashboard", args=[book.pk])).status_code == 200
    # session, user, portfolio, filter options (three), positions, their tags, prices, metrics, menu,
    # the newest metrics day
    with django_assert_max_num_queries(11):
        assert owner_web.get(reverse("web:positions", args=[book.pk])).status_code == 200
