"""Test URLconf: the project's routes plus views that fail, to exercise the 500 handlers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sigmasight.urls import handler400, handler403, handler404, handler500
from sigmasight.urls import urlpatterns as project_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("plain view failed")


class ApiBoom(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("api view failed with secret=hunter2")


urlpatterns = [
    path("boom", plain_boom),
    path("api/v1/boom", ApiBoom.as_view()),
    *project_urlpatterns,
]
