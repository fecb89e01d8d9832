"""ASGI entry point served by daphne: Django for HTTP, Channels for websockets."""

from __future__ import annotations

import gc
import os
from typing import Any, cast

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up first)
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from agent.mcp_server import MCPApp  # noqa: E402
from core.asgi import PooledRequestThreads  # noqa: E402
from core.bodylimit import BodySizeLimit, daphne_body_limit_install  # noqa: E402
from core.response_front import ResponseFront  # noqa: E402
from sigmasight.routing import websocket_urlpatterns  # noqa: E402

# Static files (the web app's, the admin's, Swagger UI's) are served by WhiteNoise in the middleware
# stack (core.middleware.StaticFilesMiddleware) unless SERVE_STATIC is off (a proxy or CDN in front).
# Each request's synchronous parts run on a pooled thread that keeps its database connection,
# instead of a new thread (and connection) per request: see core/asgi.py. In front of them, the response
# cache's front answers a repeated read GET (bearer token, no cookie) before Django, in one hop to one of its
# own few threads: see core/response_front.py.
pooled_app = PooledRequestThreads(cast(Any, django_asgi_app), size=settings.ASGI_REQUEST_THREADS)
front_app = ResponseFront(cast(Any, pooled_app), threads=settings.RESPONSE_FRONT_THREADS)
# A body over MAX_REQUEST_BODY_BYTES is a 413 before Django reads (and spools) it: core/bodylimit.py.
http_app = BodySizeLimit(cast(Any, front_app), max_bytes=settings.MAX_REQUEST_BODY_BYTES)
daphne_body_limit_install(settings.MAX_REQUEST_BODY_BYTES)  # daphne reads whole bodies before calling us
# Websockets get the session cookie (read lazily), so that the web app's chat page is authenticated
# by the login session; API clients keep authenticating with a token (agent/consumers.py).
websocket_app = SessionMiddlewareStack(URLRouter(websocket_urlpatterns))
# /mcp: the agent's read-only tools over the Model Context Protocol (agent/mcp_server.py), next to
# Django rather than through it (the SDK is an ASGI app of its own; it is imported on first use).
mcp_app = MCPApp()


async def http_router(scope: Any, receive: Any, send: Any) -> None:
    path = scope.get("path", "")
    if path == "/mcp" or path.startswith("/mcp/"):
        await mcp_app(scope, receive, send)
    else:
        await http_app(scope, receive, send)


application = ProtocolTypeRouter({"http": http_router, "websocket": websocket_app})

# Everything loaded at start-up (Django, DRF, numpy, pandas, scipy, and every view through the URLconf,
# which the first request would import anyway: ~150k objects) lives as long as the process. Frozen,
# the cyclic garbage collector no longer walks it on each full collection — a 50-130 ms pause of the
# event loop that stalled every request in flight (the API's p99).
get_resolver().url_patterns  # noqa: B018  (imports every view module)
gc.freeze()
