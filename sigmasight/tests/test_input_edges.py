"""Issue 17.11, the smaller defects: each answered with a clear 4xx (or an ``error`` event), never
a 500, a 1011 close or a silently ignored parameter."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from core.testing import assert_error
from portfolios.models import Portfolio, User
from sigmasight.asgi import application


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/analytics/portfolios/{id}/overview?as_of=",
        "/api/v1/analytics/portfolios/{id}/var?as_of=",
        "/api/v1/analytics/portfolios/{id}/snapshots?start=",
        "/api/v1/analytics/portfolios/{id}/snapshots?end=",
        "/api/v1/data/prices/AAPL?start=",
    ],
)
def test_an_empty_date_parameter_is_a_400_naming_it(owner_client: APIClient, portfolio: Portfolio, path: str) -> None:
    name = path.rsplit("?", 1)[1].rstrip("=")

    response = owner_client.get(path.format(id=portfolio.pk))

    assert name in assert_error(response, 400)["details"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b""),
        ("multipart/form-data; boundary=xyz", b""),
        ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
        ("multipart/form-data; boundary=", b"garbage"),
    ],
)
def test_an_empty_multipart_import_is_a_400_with_a_body(
    owner_client: APIClient, portfolio: Portfolio, content_type: str, body: bytes
) -> None:
    url = f"/api/v1/data/portfolios/{portfolio.pk}/positions/import"

    response = owner_client.generic("POST", url, body, content_type=content_type)

    assert_error(response, 400)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_deeply_nested_websocket_frame_is_an_error_event_and_the_socket_stays_open(owner: User) -> None:
    async def run() -> tuple[dict, dict]:
        communicator = WebsocketCommunicator(application, f"/ws/agent/chat/?token={AccessToken.for_user(owner)}")
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await communicator.send_to(text_data="[" * 100_000 + "]" * 100_000)
        error = await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return error, pong

    error, pong = async_to_sync(run)()

    assert error["type"] == "error" and error["code"] == "invalid"
    assert pong == {"type": "pong"}
