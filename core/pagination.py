"""The one paginator: ``{"count", "next", "previous", "results"}`` with ``?page=`` and ``?page_size=``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView


class UnorderedQuerysetError(RuntimeError):
    """Raised when a list endpoint hands an unordered queryset to the paginator."""


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Request, view: APIView | None = None) -> list[Any] | None:
        # Pages of an unordered queryset can repeat or skip rows between requests.
        if isinstance(queryset, QuerySet) and not queryset.ordered:
            raise UnorderedQuerysetError(f"{queryset.model.__name__} queryset must be ordered before pagination.")
        return super().paginate_queryset(queryset, request, view)


def paginate(*, queryset: QuerySet[Any], request: Request, view: APIView) -> tuple[StandardPagination, Sequence[Any]]:
    """One page of ``queryset`` and the paginator that builds the envelope for it."""
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator, page or []
