"""The README's curl sequence against the seeded demo: log in, list, positions, health, docs, schema."""

from __future__ import annotations

from rest_framework.test import APIClient

DEMO_PORTFOLIO_ID = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"


def test_the_demo_individual_investor_walks_through_the_api_as_the_readme_shows(demo_data) -> None:
    client = APIClient()

    login = client.post(
        "/api/v1/auth/login",
        {"email": "demo_individual@sigmasight.com", "password": "demo12345"},
        format="json",
    )
    assert login.status_code == 200, login.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access_token']}")

    portfolios = client.get("/api/v1/data/portfolios").json()
    assert portfolios["count"] == 1
    assert [p["id"] for p in portfolios["results"]] == [DEMO_PORTFOLIO_ID]
    assert portfolios["results"][0]["position_count"] == 16

    positions = client.get(f"/api/v1/data/portfolios/{DEMO_PORTFOLIO_ID}/positions").json()
    assert positions["count"] == 16
    assert len(positions["results"]) == 16
    assert all(p["portfolio_id"] == DEMO_PORTFOLIO_ID for p in positions["results"])

    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] in ("healthy", "degraded")

    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")

    schema = client.get("/api/schema/")
    assert schema.status_code == 200


def test_each_demo_user_sees_only_their_own_portfolio(demo_data) -> None:
    counts = {}
    for email in ("demo_individual@sigmasight.com", "demo_hnw@sigmasight.com", "demo_hedgefundstyle@sigmasight.com"):
        client = APIClient()
        token = client.post("/api/v1/auth/login", {"email": email, "password": "demo12345"}, format="json")
        assert token.status_code == 200, (email, token.content)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
        results = client.get("/api/v1/data/portfolios").json()["results"]
        assert len(results) == 1
        counts[email] = results[0]["position_count"]
        if email != "demo_individual@sigmasight.com":
            other = client.get(f"/api/v1/data/portfolios/{DEMO_PORTFOLIO_ID}")
            assert other.status_code == 404

    assert sorted(counts.values()) == [16, 17, 30]
