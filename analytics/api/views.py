"""``/api/v1/analytics``, the factor exposures of ``/api/v1/data`` and the staff batch admin.

Views only read stored results through ``analytics.selectors``: nothing is computed per request.
A result is read joined with its portfolio and scoped to ``request.user`` in one query; when there
is none, ``portfolios.selectors.portfolio_get_for_user`` decides the 404: ``not_found`` for another
user's id exactly like a missing one, else ``not_computed`` naming the command that computes it —
never a row of zeros.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from analytics import selectors
from analytics.api.serializers import (
    AsOfInputSerializer,
    BatchRunDetailOutputSerializer,
    BatchRunInputSerializer,
    BatchRunOutputSerializer,
    MarketRiskOutputSerializer,
    OverviewOutputSerializer,
    ResultOutputSerializer,
    SnapshotOutputSerializer,
    SnapshotRangeInputSerializer,
    overview_output,
)
from analytics.models import BatchRun, PortfolioResult, ResultKind
from analytics.services.batch import batch_run
from analytics.services.locking import BatchLocked
from core.auth import bearer_token_validated, token_user
from core.dbversion import ConnectionCache
from core.errors import ApplicationError, ConflictError, NotFoundError
from core.openapi import error_responses
from core.pagination import StandardPagination, paginate
from core.parsers import SafeJSONParser
from marketdata.calendar import latest_completed_session
from portfolios.selectors import portfolio_get_for_user

PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Items per page (default 50, at most 500)."),
]
SNAPSHOTS_COMMAND = "python manage.py run_batch --steps snapshots"
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


def result_get(*, request: Request, portfolio_id: uuid.UUID, kind: str, as_of: dt.date | None) -> PortfolioResult:
    """The caller's stored result of ``kind`` (its portfolio joined) in one query; otherwise a 404:
    ``not_found`` when the portfolio is not the caller's, else ``not_computed`` naming the command."""
    result = selectors.portfolio_result_for_user(user=request.user, portfolio_id=portfolio_id, kind=kind, as_of=as_of)
    if result is None:
        portfolio_get_for_user(user=request.user, portfolio_id=portfolio_id)  # raises not_found
        raise _not_computed(kind=kind, command=selectors.RESULT_COMMANDS[kind], as_of=as_of)
    return result


def result_output(result: PortfolioResult) -> dict[str, Any]:
    return {
        "portfolio_id": result.portfolio_id,
        "kind": result.kind,
        "provenance": selectors.provenance(result),
        "data": result.payload,
    }


# --- portfolio results ----------------------------------------------------------------------

AS_OF_PARAMETERS = [AsOfInputSerializer]


class OverviewView(APIView):
    @extend_schema(
        operation_id="analytics_overview",
        summary="Value, cash, leverage, exposures, P&L and counts of a portfolio",
        description=(
            "From the stored overview result of the newest batch day (or the newest on or before ?as_of=) and "
            "the snapshot of that day for daily and cumulative P&L. 404 not_computed until the batch has run."
        ),
        tags=["analytics"],
        parameters=AS_OF_PARAMETERS,
        responses={200: OverviewOutputSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        as_of = _as_of(request)
        result = result_get(request=request, portfolio_id=portfolio_id, kind=ResultKind.OVERVIEW, as_of=as_of)
        snapshot = selectors.snapshots_for_portfolio(portfolio_id=result.portfolio_id, end=result.as_of).last()
        # The hottest endpoint: the body is built as JSON-ready data directly (OverviewOutputSerializer
        # documents it, and a test checks the body against it) — building nested DRF serializers per
        # request cost about a third of its time.
        return Response(overview_output(portfolio=result.portfolio, result=result, snapshot=snapshot))


# The overview is the API's hottest endpoint. Under daphne a DRF view is synchronous, so it runs on
# a thread; the async view below answers the plain case on the event loop with one hand-off to a
# thread for its queries (user, result joined with its portfolio, snapshot — or, when the answer is
# cached, only the database's change counter). It hands every other case — no or bad token,
# inactive user, another user's or unknown portfolio, not computed, bad ?as_of=, a browser asking
# for HTML, ?format=, any method but GET — to OverviewView, the one source of errors, content
# negotiation and headers. Both build the body with ``overview_output`` and render it with DRF's
# JSONRenderer; a test compares their bytes and headers.
_overview_drf_view = OverviewView.as_view()


def _drf_response_headers() -> dict[str, str]:
    """The headers DRF adds to OverviewView's responses (Allow, Vary: Accept), from a view set up as
    for a request (``setup`` is what adds HEAD to the allowed methods)."""
    view = OverviewView()
    view.setup(HttpRequest())
    return dict(view.default_response_headers)


_overview_headers = _drf_response_headers()
_json_renderer = JSONRenderer()
_JSON_ACCEPT = frozenset({"", "*/*", "application/json"})
# The fast path only authenticates (Bearer JWT, the first authenticator, so the one DRF would use)
# and checks IsAuthenticated: anything more on the DRF view (throttles, other permissions, another
# authenticator first) turns it off rather than be bypassed.
_OVERVIEW_FAST_PATH = (
    not OverviewView.throttle_classes
    and list(OverviewView.permission_classes) == [IsAuthenticated]
    and list(OverviewView.authentication_classes)[:1] == [JWTAuthentication]
)


def _overview_built(*, token: Token, portfolio_id: uuid.UUID, as_of: dt.date | None) -> tuple[Any, bytes] | None:
    """(user, rendered body) of the overview when the token's user owns a computed overview, else None."""
    user = token_user(token)
    if user is None:
        return None
    result = selectors.portfolio_result_for_user(
        user=user, portfolio_id=portfolio_id, kind=ResultKind.OVERVIEW, as_of=as_of
    )
    if result is None:
        return None
    snapshot = selectors.snapshots_for_portfolio(portfolio_id=result.portfolio_id, end=result.as_of).last()
    body = overview_output(portfolio=result.portfolio, result=result, snapshot=snapshot)
    return user, _json_renderer.render(body)


# The rendered answer per (user, portfolio, as_of), reused while the database's change counter says
# nothing was written since it was built (core/dbversion.py: any write by any process, to any table,
# invalidates — a deactivated user, a renamed portfolio, a new batch result are seen at once). A hit
# costs one tiny query instead of three ORM ones. Only successes are kept.
_overview_cache = ConnectionCache(maxsize=512)


def _overview_rendered(*, token: Token, portfolio_id: uuid.UUID, as_of: dt.date | None) -> tuple[Any, bytes] | None:
    """:func:`_overview_built`, through the cache. The key holds everything the answer depends on
    besides the data: the token's user (and its revocation claim when simplejwt checks it)."""
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if user_id is None:
        return None
    revoke = token.get(jwt_settings.REVOKE_TOKEN_CLAIM) if jwt_settings.CHECK_REVOKE_TOKEN else None
    return _overview_cache.get_or_build(
        (str(user_id), revoke, portfolio_id, as_of),
        lambda: _overview_built(token=token, portfolio_id=portfolio_id, as_of=as_of),
    )


def _plain_as_of(request: HttpRequest) -> tuple[bool, dt.date | None]:
    """(valid, as_of) from the query string as OverviewView reads it; no parameters → (True, None)."""
    if not request.GET:
        return True, None
    if "format" in request.GET:
        return False, None  # DRF's format override: let the DRF view negotiate
    params = AsOfInputSerializer(data=request.GET)
    if not params.is_valid():
        return False, None
    return True, params.validated_data.get("as_of")


async def overview_view(request: HttpRequest, portfolio_id: uuid.UUID) -> HttpResponse:
    """``GET .../overview``: the 200 answer without a thread per request; all else via OverviewView."""
    if (
        _OVERVIEW_FAST_PATH
        and request.method == "GET"
        and request.headers.get("Accept", "").strip() in _JSON_ACCEPT
        and (token := bearer_token_validated(request)) is not None
    ):
        valid, as_of = _plain_as_of(request)
        if valid:
            found = await sync_to_async(_overview_rendered)(token=token, portfolio_id=portfolio_id, as_of=as_of)
            if found is not None:
                user, body = found
                request.user = user  # as DRF does: the access log names the caller
                response = HttpResponse(body, content_type=_json_renderer.media_type)
                headers = dict(_overview_headers)
                patch_vary_headers(response, [headers.pop("Vary")] if "Vary" in headers else [])
                for name, value in headers.items():
                    response[name] = value
                return response
    return await sync_to_async(_overview_drf_view)(request, portfolio_id=portfolio_id)


# What the URL resolver, the CSRF middleware and drf-spectacular read from a DRF view function: the
# schema documents OverviewView for this URL, and the view stays csrf-exempt like every API view.
for _attribute in ("cls", "initkwargs", "view_class", "view_initkwargs", "csrf_exempt", "login_required"):
    if hasattr(_overview_drf_view, _attribute):
        setattr(overview_view, _attribute, getattr(_overview_drf_view, _attribute))


def _result_view(
    kind: str, *, name: str, summary: str, description: str, operation_id: str = "", tag: str = "analytics"
) -> type[APIView]:
    """A GET view answering the stored result of ``kind`` with its provenance."""

    class ResultView(APIView):
        @extend_schema(
            operation_id=operation_id or f"analytics_{name}",
            summary=summary,
            description=f"{description} 404 not_computed (naming the command) until the batch has computed it.",
            tags=[tag],
            parameters=AS_OF_PARAMETERS,
            responses={200: ResultOutputSerializer, **error_responses(400, 401, 404)},
        )
        def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
            as_of = _as_of(request)
            result = result_get(request=request, portfolio_id=portfolio_id, kind=kind, as_of=as_of)
            return Response(ResultOutputSerializer(result_output(result)).data)

    ResultView.__name__ = ResultView.__qualname__ = f"{name.title().replace('_', '')}View"
    return ResultView


GreeksView = _result_view(
    ResultKind.GREEKS,
    name="greeks",
    summary="Portfolio and per-position Greeks with their inputs",
    description=(
        "Black–Scholes–Merton Greeks per option (per share) and per position, with spot, strike, years to expiry, "
        "implied vol and its source, rate and dividend yield of each row."
    ),
)
StressTestView = _result_view(
    ResultKind.STRESS_TEST,
    name="stress_test",
    summary="Stress scenario P&L (direct and factor-conditioned)",
    description="P&L of every active stress scenario, per factor and per position, and the worst one.",
)
CorrelationsView = _result_view(
    ResultKind.CORRELATIONS,
    name="correlations",
    summary="Correlation matrix, clusters and diversification",
    description="Return correlations of the portfolio's symbols over the window in provenance.",
)
VarView = _result_view(
    ResultKind.VAR,
    name="var",
    summary="Value at risk and expected shortfall",
    description="1-day historical and parametric VaR/ES at 95% and 99% (positive USD losses), per position.",
)
FactorExposuresView = _result_view(
    ResultKind.FACTOR_EXPOSURE,
    name="factor_exposures",
    summary="Portfolio and per-position factor betas and dollar exposures",
    description="Betas to the 7 style factors and rates, and dollar exposures, of the portfolio and each position.",
    operation_id="factor_exposures_retrieve",
    tag="data",
)


class MarketRiskView(APIView):
    @extend_schema(
        operation_id="analytics_market_risk",
        summary="Portfolio P&L for market moves of ±5/10/20% and the market beta",
        description=(
            "The stored market_scenarios result (options repriced, not delta-approximated) and the portfolio's "
            "market beta from its factor_exposure result of the same day or earlier (null if not computed). "
            "404 not_computed until the batch has computed the scenarios."
        ),
        tags=["analytics"],
        parameters=AS_OF_PARAMETERS,
        responses={200: MarketRiskOutputSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        as_of = _as_of(request)
        result = result_get(request=request, portfolio_id=portfolio_id, kind=ResultKind.MARKET_SCENARIOS, as_of=as_of)
        factors = selectors.portfolio_result_latest(
            portfolio_id=result.portfolio_id, kind=ResultKind.FACTOR_EXPOSURE, as_of=result.as_of
        )
        market_beta = None
        if factors is not None:
            market_beta = {
                "beta": factors.payload.get("portfolio_betas", {}).get("market"),
                "univariate": factors.payload.get("market_beta_univariate"),
                "as_of": factors.as_of,
            }
        body = {**result_output(result), "market_beta": market_beta}
        return Response(MarketRiskOutputSerializer(body).data)


class SnapshotListView(APIView):
    pagination_class = StandardPagination

    @extend_schema(
        operation_id="analytics_snapshots",
        summary="Daily snapshots of a portfolio, oldest first, each with its provenance",
        description="404 not_computed when no snapshot was ever stored; an empty page when none falls in the range.",
        tags=["analytics"],
        parameters=[SnapshotRangeInputSerializer, *PAGE_PARAMETERS],
        responses={200: SnapshotOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, portfolio_id: uuid.UUID) -> Response:
        dates = SnapshotRangeInputSerializer(data=request.query_params)
        dates.is_valid(raise_exception=True)
        portfolio = portfolio_get_for_user(user=request.user, portfolio_id=portfolio_id)
        queryset = selectors.snapshots_for_portfolio(portfolio_id=portfolio.pk, **dates.validated_data)
        paginator, page = paginate(queryset=queryset, request=request, view=self)
        if not page and not selectors.snapshots_for_portfolio(portfolio_id=portfolio.pk).exists():
            raise _not_computed(kind="snapshots", command=SNAPSHOTS_COMMAND, as_of=None)
        return paginator.get_paginated_response(SnapshotOutputSerializer(page, many=True).data)


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
