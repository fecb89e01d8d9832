"""Static files: WhiteNoise serves the vendored libraries and the app's own files, under ASGI (on the
event loop) and WSGI, and after ``collectstatic`` serves the compressed copies."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

from core.middleware import StaticFilesMiddleware

WEB_STATIC = Path(__file__).resolve().parents[1] / "static" / "web"
VENDORED = {
    "web/vendor/chart.js-4.6.1/chart.umd.min.js": ("Chart.js v4.6.1", "LICENSE.md"),
    "web/vendor/htmx-2.0.11/htmx.min.js": ("var htmx=", "LICENSE"),
}


def test_each_vendored_library_ships_with_its_licence() -> None:
    for path, (marker, licence) in VENDORED.items():
        file = WEB_STATIC.parent / path
        assert marker in file.read_text()[:2000]
        assert (file.parent / licence).read_text().strip()


def test_static_files_are_served_through_the_wsgi_stack(db) -> None:
    response = Client().get("/static/web/css/sigmasight.css")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    assert b"".join(response.streaming_content).startswith(b"/* SigmaSight web app")  # type: ignore[attr-defined]


def test_static_files_are_served_on_the_event_loop_under_asgi(db) -> None:
    async def fetch() -> tuple[int, str, bytes]:
        response = await AsyncClient().get("/static/web/vendor/htmx-2.0.11/htmx.min.js")
        body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
        return response.status_code, response["Content-Type"], body

    status, content_type, body = async_to_sync(fetch)()
    assert status == 200 and "javascript" in content_type
    assert body == (WEB_STATIC / "vendor" / "htmx-2.0.11" / "htmx.min.js").read_bytes()


def test_a_path_that_is_not_a_static_file_goes_on_to_the_app(db) -> None:
    middleware = StaticFilesMiddleware(lambda request: HttpResponse("from the app"))
    response = middleware(RequestFactory().get("/static/web/does-not-exist.css"))
    assert response.content == b"from the app"


def test_after_collectstatic_the_compressed_copies_are_served(tmp_path: Path) -> None:
    with override_settings(STATIC_ROOT=tmp_path):
        call_command("collectstatic", interactive=False, verbosity=0)
        chart = tmp_path / "web" / "vendor" / "chart.js-4.6.1" / "chart.umd.min.js"
        assert chart.exists() and (tmp_path / "web" / "vendor" / "chart.js-4.6.1" / "LICENSE.md").exists()
        assert Path(f"{chart}.gz").exists()
        middleware = StaticFilesMiddleware(lambda request: HttpResponse(status=404))
        request = RequestFactory().get(
            "/static/web/vendor/chart.js-4.6.1/chart.umd.min.js", HTTP_ACCEPT_ENCODING="gzip"
        )
        response = middleware(request)
        assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
        assert gzip.decompress(b"".join(response.streaming_content)) == chart.read_bytes()


@pytest.mark.parametrize("path", ["web/css/sigmasight.css", "web/js/app.js", "web/js/chat.js", "web/js/dashboard.js"])
def test_the_apps_own_files_exist(path: str) -> None:
    assert (WEB_STATIC.parent / path).stat().st_size > 500


def test_every_grid_span_a_template_uses_is_defined_in_the_stylesheet() -> None:
    """A ``span-N`` class the stylesheet lacks leaves its panel one column of twelve wide (the dashboard's risk
    decomposition and tracking error panels were, ``span-6``)."""
    templates = WEB_STATIC.parents[1] / "templates"
    used = {m for f in templates.rglob("*.html") for m in re.findall(r"\bspan-(\d+)\b", f.read_text())}
    defined = set(
        re.findall(
            r"^\.span-(\d+) \{ grid-column: span \1; \}", (WEB_STATIC / "css" / "sigmasight.css").read_text(), re.M
        )
    )
    assert used and used <= defined, sorted(used - defined)
