"""``/api/v1/analytics``: one endpoint per registered result kind, and the staff batch admin.

Every result endpoint is a :class:`ResultView` derived from its kind's spec (``analytics.results``):
views only read stored results through ``analytics.selectors``, nothing is computed per request.
A result is read joined with its portfolio and scoped to ``request.user`` in one query; when there
is none, ``portfolios.selectors.portfolio_get_for_user`` decides the 404: ``not_found`` for another
user's id exactly like a missing one, else ``not_computed`` naming the command that computes it —
never a row of zeros.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors
from analytics.api.serializers import (
    AsOfInputSerializer,
    BatchRunDetailOutputSerializer,
    BatchRunInputSerializer,
    BatchRunOutputSerializer,
    SnapshotRangeInputSerializer,
    result_output_serializer,
)
from analytics.models import BatchRun, PortfolioResult
from analytics.results.base import ResultSpec
from analytics.services.batch import batch_run
from analytics.services.locking import BatchLocked
from core.errors import ApplicationError, ConflictError, NotFoundError
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from core.parsers import SafeJSONParser
from core.response_cache import CachedReadMixin
from core.typed_serializers import typed_dict_serializer
from core.users import request_user
from marketdata.calendar import latest_completed_session
from portfolios.selectors import portfolio_get_for_user

PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (default 50, at most 500)."),
]
NOT_COMPUTED = "not_computed"


def _not_computed(*, kind: str, command: str, as_of: dt.date | None) -> NotFoundError:
    when = f" on or before {as_of.isoformat()}" if as_of else ""
    return NotFoundError(
        f"No {kind} result has been computed for this portfolio{when}. Compute it with: {command}",
        code=NOT_COMPUTED,
        details={"kind": kind, "command": command},
    )


def _as_of(request: Request) -> dt.date | None:
    params = AsOfInputSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data.get("as_of")


def result_get(
    *, request: Request, portfolio_id: uuid.UUID, spec: ResultSpec[Any, Any], as_of: dt.date | None
) -> PortfolioResult:
    """The caller's stored result of ``spec`` (its portfolio joined) in one query; otherwise a 404:
    ``not_found`` when the portfolio is not the caller's, else ``not_computed`` naming the command."""
    result = selectors.portfolio_result_for_user(
        user=request_user(request), portfolio_id=portfolio_id, kind=spec.name, as_of=as_of
    )
    if result is None:
        portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)  # raises not_found
        raise _not_computed(kind=spec.name, command=spec.command, as_of=as_of)
    return result


def result_body(spec: ResultSpec[Any, Any], result: PortfolioResult) -> dict[str, Any]:
    """The answer of a result endpoint: the stored payload as ``data`` with its provenance, and the kind's
    extra fields. Built as JSON-ready data directly: the kind's derived serializer documents it (and a test
    checks answers against it), and running nested serializers over stored payloads would cost more than
    the rest of the request."""
    return {
        "portfolio_id": str(result.portfolio_id),
        "kind": result.kind,
        "provenance": selectors.provenance(result),
        "data": result.payload,
        **spec.api_extra(result),
    }


# --- portfolio results ----------------------------------------------------------------------

AS_OF_PARAMETERS = [AsOfInputSerializer]


class ResultView(CachedReadMixin, APIView):
    """The base of every result endpoint, ``GET /api/v1/analytics/portfolios/{id}/<kind>``: the newest stored
    result of ``spec`` (or the newest on or before ``?as_of=``). Derived once per registered kind by
    :func:`result_view`; anything every result endpoint should do belongs here (its answers are cached by
    ``core.response_cache``, keyed by the database's change counter)."""

    spec: ClassVar[ResultSpec[Any, Any]]

    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        as_of = _as_of(request)
        result = result_get(request=request, portfolio_id=portfolio_id, spec=self.spec, as_of=as_of)
        return Response(result_body(self.spec, result))


class ResultSeriesView(ResultView):
    """A kind whose history is the result (snapshots): the stored rows between ``?start=`` and ``?end=``,
    oldest first, paginated, each with its provenance. 404 not_computed when none was ever stored."""

    pagination_class = StandardPagination

    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        dates = SnapshotRangeInputSerializer(data=request.query_params)
        dates.is_valid(raise_exception=True)
        portfolio = portfolio_get_for_user(user=request_user(request), portfolio_id=portfolio_id)
        queryset = self.spec.series(portfolio_id=portfolio.pk, **dates.validated_data)
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        if not page and not self.spec.series(portfolio_id=portfolio.pk, start=None, end=None).exists():
            raise _not_computed(kind=self.spec.name, command=self.spec.command, as_of=None)
        return paginator.get_paginated_response([self.spec.series_item(row) for row in page])


def result_view(
    spec: ResultSpec[Any, Any], *, operation_id: str | None = None, tag: str = "analytics"
) -> type[ResultView]:
    """The endpoint of one kind: a :class:`ResultView` (or :class:`ResultSeriesView`) with its OpenAPI
    description — summary and description from the spec, the answer's schema from its payload type."""
    series = spec.series_item_type is not None
    base: type[ResultView] = ResultSeriesView if series else ResultView
    if series:
        assert spec.series_item_type is not None
        response: Any = typed_dict_serializer(spec.series_item_type)(many=True)
        parameters: list[Any] = [SnapshotRangeInputSerializer, *PAGE_PARAMETERS]
        description = f"{spec.description} 404 not_computed (naming the command) when none was ever stored."
    else:
        response = result_output_serializer(spec)
        parameters = AS_OF_PARAMETERS
        description = f"{spec.description} 404 not_computed (naming the command) until the batch has computed it."

    @extend_schema(
        operation_id=operation_id or f"analytics_{spec.name}",
        summary=spec.summary,
        description=description,
        tags=[tag],
        parameters=parameters,
        responses={200: response, **error_responses(400, 401, 404)},
    )
    def get(self: ResultView, request: Request, portfolio_id: uuid.UUID) -> Response:
        return base.get(self, request, portfolio_id)

    name = "".join(part.title() for part in spec.name.split("_"))
    suffix = "" if operation_id is None else "Legacy"  # an earlier URL, documented under its original operation id
    return type(f"{name}{suffix}View", (base,), {"spec": spec, "get": get, "__doc__": spec.summary})


# --- staff batch admin ----------------------------------------------------------------------


class StaffOnly(APIView):
    # IsAuthenticated first so that an anonymous caller gets 401, a signed-in non-staff one 403.
    permission_classes = [IsAuthenticated, IsAdminUser]


def _run_detail(run: BatchRun) -> dict[str, Any]:
    jobs = list(selectors.batch_jobs_for_run(run_id=run.pk))
    return BatchRunDetailOutputSerializer(run, context={"jobs": jobs}).data


class BatchRunView(StaffOnly):
    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="admin_batch_run",
        summary="Run the analytics batch now (staff only)",
        description=(
            "Runs synchronously and answers with the run and its jobs. as_of defaults to the latest completed "
            "session; steps to all of them. 409 conflict when another run holds the lock for that date."
        ),
        tags=["admin"],
        request=BatchRunInputSerializer,
        responses={201: BatchRunDetailOutputSerializer, **error_responses(400, 401, 403, 409, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = BatchRunInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            outcome = batch_run(
                as_of=data.get("as_of") or latest_completed_session(),
                portfolio_ids=data.get("portfolio_ids"),
                steps=data.get("steps"),
                trigger="api",
            )
        except BatchLocked as exc:
            raise ConflictError(str(exc)) from exc
        except ValueError as exc:  # unknown steps or portfolio ids
            raise ApplicationError(str(exc)) from exc
        return Response(_run_detail(outcome.run), status=status.HTTP_201_CREATED)


class BatchRunListView(StaffOnly):
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="admin_batch_runs_list",
        summary="Batch runs, newest first (staff only)",
        tags=["admin"],
        parameters=PAGE_PARAMETERS,
        responses={200: BatchRunOutputSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        queryset: QuerySet[BatchRun] = BatchRun.objects.order_by("-created_at", "id")
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        return paginator.get_paginated_response(BatchRunOutputSerializer(page, many=True).data)


class BatchRunDetailView(StaffOnly):
    @extend_schema(
        operation_id="admin_batch_runs_retrieve",
        summary="One batch run with its jobs (staff only)",
        tags=["admin"],
        responses={200: BatchRunDetailOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, run_id: uuid.UUID) -> Response:
        run = BatchRun.objects.filter(pk=run_id).first()
        if run is None:
            raise NotFoundError(f"Batch run {run_id} not found.")
        return Response(_run_detail(run))
