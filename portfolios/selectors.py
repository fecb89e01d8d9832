"""Reads of users, portfolios, positions and tags for the other apps and the API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from core.exceptions import NotFoundError
from portfolios.models import OPTION_TYPES, Portfolio, Position, PositionType, User


def portfolios_for_user(*, user: User) -> QuerySet[Portfolio]:
    """The caller's portfolios with their open-position counts."""
    return (
        Portfolio.objects.filter(user=user)
        .select_related("user")
        .annotate(position_count=Count("positions", filter=Q(positions__exit_date__isnull=True)))
        .order_by("name", "id")
    )


def portfolio_get_for_user(*, user: User, portfolio_id: uuid.UUID | str) -> Portfolio:
    """The user's portfolio, or ``NotFoundError`` — also for another user's id (never 403)."""
    try:
        return Portfolio.objects.select_related("user").get(pk=portfolio_id, user=user)
    except (Portfolio.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFoundError(f"Portfolio {portfolio_id} not found.") from None


def portfolio_detail_for_user(*, user: User, portfolio_id: uuid.UUID | str) -> Portfolio:
    """The user's portfolio with ``position_count``; ``NotFoundError`` for anyone else's id."""
    portfolio = portfolios_for_user(user=user).filter(pk=portfolio_id).first()
    if portfolio is None:
        raise NotFoundError(f"Portfolio {portfolio_id} not found.")
    return portfolio


def position_get_for_user(*, user: User, position_id: uuid.UUID | str) -> Position:
    """A position in one of the user's portfolios, or ``NotFoundError`` (never 403)."""
    try:
        return (
            Position.objects.select_related("portfolio", "portfolio__user")
            .prefetch_related("tags")
            .get(pk=position_id, portfolio__user=user)
        )
    except (Position.DoesNotExist, ValueError, TypeError):
        raise NotFoundError(f"Position {position_id} not found.") from None


def positions_for_portfolio(
    *,
    portfolio: Portfolio,
    position_type: str | None = None,
    tag: str | None = None,
    symbol: str | None = None,
    status: str = "all",
    ordering: Sequence[str] = (),
) -> QuerySet[Position]:
    """Positions of one portfolio, filtered and ordered (``id`` always breaks ties).

    ``symbol`` matches the symbol or the underlying (so ``AAPL`` finds AAPL stock and AAPL options);
    ``tag`` is a tag name; ``status`` is ``open`` (no exit date), ``closed`` or ``all``.
    """
    queryset = Position.objects.filter(portfolio=portfolio)
    if position_type:
        queryset = queryset.filter(position_type=position_type)
    if symbol:
        queryset = queryset.filter(Q(symbol__iexact=symbol) | Q(underlying_symbol__iexact=symbol))
    if tag:
        tagged = Position.tags.through.objects.filter(tag__name__iexact=tag).values("position_id")
        queryset = queryset.filter(pk__in=tagged)  # a subquery, so no DISTINCT and no duplicate rows
    if status == "open":
        queryset = queryset.filter(exit_date__isnull=True)
    elif status == "closed":
        queryset = queryset.filter(exit_date__isnull=False)
    order = [*ordering] or ["symbol"]
    return queryset.prefetch_related("tags").order_by(*order, "id")


def portfolios_all() -> QuerySet[Portfolio]:
    return Portfolio.objects.select_related("user").order_by("name", "id")


def positions_open(*, portfolio_ids: list[uuid.UUID] | None = None) -> QuerySet[Position]:
    """Open positions (no exit date), optionally limited to some portfolios, tags prefetched."""
    queryset = Position.objects.filter(exit_date__isnull=True)
    if portfolio_ids is not None:
        queryset = queryset.filter(portfolio_id__in=portfolio_ids)
    return queryset.prefetch_related("tags").order_by("portfolio_id", "symbol", "id")


def held_symbols() -> dict[str, str]:
    """Every symbol whose price the open positions need, with its asset class.

    Stock-like positions give their own symbol; options give their underlying (asset class
    ``index`` for VIX, else ``stock`` unless a stock position says otherwise).
    """
    symbols: dict[str, str] = {}
    rows = Position.objects.filter(exit_date__isnull=True).values_list(
        "symbol", "position_type", "asset_class", "underlying_symbol"
    )
    for symbol, position_type, asset_class, underlying in rows.order_by("symbol"):
        if position_type in OPTION_TYPES:
            symbols.setdefault(underlying, "index" if underlying == "VIX" else "stock")
        else:
            symbols[symbol] = asset_class
    return dict(sorted(symbols.items()))


def benchmark_symbols() -> list[str]:
    """The distinct benchmark symbols of every portfolio (tracking error's), sorted."""
    return sorted(set(Portfolio.objects.order_by().values_list("benchmark_symbol", flat=True).distinct()))


@dataclass(frozen=True)
class DatabaseCounts:
    users: int
    staff_only: int
    portfolios: int
    positions: int
    tags: int


def database_counts() -> DatabaseCounts:
    """Counts for ``check_database_content``: staff accounts without portfolios are counted apart."""
    staff_only = User.objects.filter(is_staff=True, portfolios__isnull=True).count()
    return DatabaseCounts(
        users=User.objects.count() - staff_only,
        staff_only=staff_only,
        portfolios=Portfolio.objects.count(),
        positions=Position.objects.count(),
        tags=Position.tags.through.objects.values("tag_id").distinct().count(),
    )


def options_expired_open(*, before: dt.date) -> QuerySet[Position]:
    """Option positions still open whose expiration is before ``before`` (to be settled), oldest expiry first."""
    return (
        Position.objects.filter(position_type__in=OPTION_TYPES, exit_date__isnull=True, expiration__lt=before)
        .select_related("portfolio")
        .order_by("expiration", "portfolio_id", "symbol", "id")
    )


def positions_exited(*, portfolio_ids: list[uuid.UUID], start: dt.date, end: dt.date) -> QuerySet[Position]:
    """Positions whose last day held (``exit_date``) is in [``start``, ``end``): out of the book by ``end``."""
    return Position.objects.filter(portfolio_id__in=portfolio_ids, exit_date__gte=start, exit_date__lt=end).order_by(
        "portfolio_id", "symbol", "id"
    )


POSITION_ROW_FIELDS = (
    "id",
    "portfolio_id",
    "symbol",
    "position_type",
    "asset_class",
    "quantity",
    "multiplier",
    "entry_price",
    "entry_date",
    "strike",
    "expiration",
    "underlying_symbol",
    "exit_date",
    "exit_price",
)


def held_on(day: dt.date) -> Q:
    """Positions held at the close of ``day``: entered on or before it, and not exited before it.

    ``exit_date`` is the last day a position is held (an option that expires is held, at its intrinsic
    value, through the close of its expiration day); ``entry_date`` the first. Without ``day``: the
    open positions (no exit date)."""
    return Q(entry_date__lte=day) & (Q(exit_date__isnull=True) | Q(exit_date__gte=day))


def held_between(start: dt.date, end: dt.date) -> Q:
    """Positions held at the close of at least one day from ``start`` to ``end`` (see ``held_on``)."""
    return Q(entry_date__lte=end) & (Q(exit_date__isnull=True) | Q(exit_date__gte=start))


def open_position_rows(
    *, portfolio_ids: list[uuid.UUID], as_of: dt.date | None = None, since: dt.date | None = None
) -> tuple[list[tuple], dict[uuid.UUID, list[str]]]:
    """Positions as plain tuples (``POSITION_ROW_FIELDS``) and their tag names, in two queries: the open
    ones, or with ``as_of`` those held at its close (``held_on``), or with ``since`` too those held on any
    day from ``since`` to ``as_of``.

    For bulk numeric work: no model instances, no per-position prefetch.
    """
    if as_of is None:
        condition = Q(exit_date__isnull=True)
    else:
        condition = held_on(as_of) if since is None else held_between(since, as_of)
    held = Position.objects.filter(condition, portfolio_id__in=portfolio_ids)
    rows = list(held.order_by("portfolio_id", "symbol", "id").values_list(*POSITION_ROW_FIELDS))
    tags: dict[uuid.UUID, list[str]] = {}
    links = Position.tags.through.objects.filter(position_id__in=held.order_by().values("id")).values_list(
        "position_id", "tag__name"
    )
    for position_id, name in links.order_by("position_id", "tag__name"):
        tags.setdefault(position_id, []).append(name)
    return rows, tags


def held_instruments(*, portfolio_ids: list[uuid.UUID], as_of: dt.date) -> tuple[list[str], list[str]]:
    """What prices the positions of these portfolios held at ``as_of``'s close (``held_on``), in one
    ``DISTINCT`` query, without reading the positions themselves: (the price symbols — an option's
    underlying, any other position's own symbol —, the option contracts), each sorted and unique.

    The same symbols and contracts as the ``price_symbol`` and option ``symbol`` columns of
    ``open_position_rows`` for the same portfolios and day (an option without an underlying prices
    nothing). It reads only text columns, so a position whose stored numbers cannot be read does not
    stop it."""
    held = Position.objects.filter(held_on(as_of), portfolio_id__any=portfolio_ids)
    rows = held.order_by().values_list("symbol", "position_type", "underlying_symbol").distinct()
    symbols: set[str] = set()
    contracts: set[str] = set()
    for symbol, position_type, underlying in rows:
        if position_type in OPTION_TYPES:
            contracts.add(symbol)
            if underlying is not None:
                symbols.add(underlying)
        else:
            symbols.add(symbol)
    return sorted(symbols), sorted(contracts)


@dataclass(frozen=True)
class PositionFilterOptions:
    """What a portfolio's positions can be filtered by: the types, tags and underlyings it holds."""

    position_types: list[str]
    tags: list[str]
    underlyings: list[str]


def position_filter_options(*, portfolio: Portfolio) -> PositionFilterOptions:
    """Distinct position types, tag names and underlyings (an option's underlying, a stock's own
    symbol) among the portfolio's positions, sorted; three small queries."""
    positions = Position.objects.filter(portfolio=portfolio)
    types = set(positions.values_list("position_type", flat=True).order_by().distinct())
    tags = (
        Position.tags.through.objects.filter(position__portfolio=portfolio)
        .values_list("tag__name", flat=True)
        .order_by("tag__name")
        .distinct()
    )
    underlyings = {
        underlying or symbol
        for symbol, underlying in positions.values_list("symbol", "underlying_symbol").order_by().distinct()
    }
    return PositionFilterOptions(
        position_types=[t for t in PositionType.values if t in types],
        tags=list(tags),
        underlyings=sorted(underlyings),
    )
