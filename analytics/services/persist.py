"""Bulk upserts of analytics results: a rerun for the same day replaces rows, never duplicates them."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
from django.db import connection, models, transaction
from django.utils import timezone

from analytics.models import (
    SNAPSHOT_VALUE_FIELDS,
    FactorModelFit,
    PortfolioResult,
    PortfolioSnapshot,
    PositionMetrics,
    SymbolFactorBeta,
)
from core.datachange import data_changed
from marketdata.factors import FACTOR_NAMES

UPSERT_BATCH = 2000
# From this many rows on, PostgreSQL upserts go through COPY into a staging table: Django's
# bulk_create prepares every value in Python (about 1 ms per 40-column row) and sends JSON
# payloads as escaped array literals, which costs seconds per chunk of large results.
COPY_THRESHOLD = 2
PROVENANCE_FIELDS = ("method", "lookback_days", "data_source", "inputs", "is_stale", "stale_reason", "batch_run")


# A row to upsert: a model instance, or a mapping of field names (or attnames, ``position_id``) to
# values — mappings skip model instantiation, which costs more than the COPY itself on large sets.
Row = models.Model | Mapping[str, Any]


def bulk_upsert(
    model: type[models.Model], rows: Sequence[Row], *, unique_fields: list[str], update_fields: list[str]
) -> int:
    """INSERT … ON CONFLICT (unique) DO UPDATE: COPY + staging table on PostgreSQL for large sets, else batches."""
    if not rows:
        return 0
    update_fields = _with_computed_at(model, update_fields)
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        return _copy_upsert(model, rows, unique_fields=unique_fields, update_fields=update_fields)
    model._default_manager.bulk_create(
        [row if isinstance(row, models.Model) else model(**row) for row in rows],
        batch_size=UPSERT_BATCH,
        update_conflicts=True,
        unique_fields=unique_fields,
        update_fields=update_fields,
    )
    return len(rows)


def _with_computed_at(model: type[models.Model], update_fields: list[str]) -> list[str]:
    """Results carry ``computed_at`` (auto_now): an update sets it too."""
    has_it = any(f.name == "computed_at" for f in model._meta.concrete_fields)
    return [*update_fields, "computed_at"] if has_it and "computed_at" not in update_fields else update_fields


def _is_auto_now(field: models.Field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _json_text(value: Any) -> str | None:
    """A JSON column's COPY text; None stays SQL NULL. orjson writes NaN/inf as null (PostgreSQL refuses
    them) and is ~10× the json module."""
    return None if value is None else orjson.dumps(value).decode()


def _json_texts(values: Sequence[Any]) -> list[str | None]:
    """Each value's :func:`_json_text`, made once per distinct object: a column of constants (a portfolio's
    provenance ``inputs`` on each of its positions' rows) repeats one object."""
    made: dict[int, str | None] = {}
    texts = []
    for value in values:
        key = id(value)  # ``values`` holds every object while this runs: no id is reused
        if key not in made:
            made[key] = _json_text(value)
        texts.append(made[key])
    return texts


def _row_reader(fields: list[models.Field]) -> Callable[[Row], list[Any]]:
    """A function giving a row's database values in ``fields`` order (JSON as text, auto-now as now)."""
    now = timezone.now()
    plan = []
    for f in fields:
        plan.append(
            (f.attname, f.name, f.is_relation, isinstance(f, models.JSONField), _is_auto_now(f), f.get_default())
        )

    def read(row: Row) -> list[Any]:
        values = []
        for attname, name, is_relation, is_json, auto_now, default in plan:
            if auto_now:
                value: Any = now
            elif isinstance(row, models.Model):
                value = getattr(row, attname)
            elif attname in row:
                value = row[attname]
            elif name in row:
                value = row[name]
                value = value.pk if is_relation and value is not None else value
            else:
                value = default
            if is_json:
                value = _json_text(value)
            values.append(value)
        return values

    return read


def _copy_upsert(
    model: type[models.Model], rows: Sequence[Row], *, unique_fields: list[str], update_fields: list[str]
) -> int:
    """COPY of the rows into a temporary table, then one INSERT … ON CONFLICT DO UPDATE."""
    fields = _copied_fields(model)
    read = _row_reader(fields)
    return _copy_and_merge(
        model, fields, (read(row) for row in rows), unique_fields=unique_fields, update_fields=update_fields
    )


def bulk_upsert_columns(
    model: type[models.Model],
    columns: Mapping[str, Sequence[Any]],
    *,
    unique_fields: list[str],
    update_fields: list[str],
) -> int:
    """``bulk_upsert`` of rows given column-wise: ``columns`` maps attnames (``position_id``) to equal-length
    sequences; a field not given takes its default. Column-wise rows skip building a dict per row."""
    names = list(columns)
    length = len(columns[names[0]]) if names else 0
    if not length:
        return 0
    if connection.vendor != "postgresql" or length < COPY_THRESHOLD:
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        return bulk_upsert(model, rows, unique_fields=unique_fields, update_fields=update_fields)
    fields = _copied_fields(model)
    now = timezone.now()
    series: list[Iterable[Any]] = []
    for f in fields:
        if _is_auto_now(f):
            series.append(itertools.repeat(now, length))
        elif f.attname in columns:
            values = columns[f.attname]
            series.append(_json_texts(values) if isinstance(f, models.JSONField) else values)
        else:
            default = f.get_default()  # the field default, or "" for text fields and None otherwise
            series.append(itertools.repeat(_json_text(default) if isinstance(f, models.JSONField) else default, length))
    return _copy_and_merge(
        model,
        fields,
        zip(*series, strict=True),
        unique_fields=unique_fields,
        update_fields=_with_computed_at(model, update_fields),
    )


def _copied_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]  # the table numbers rows


# TOAST compression of the large values the COPY writes store (JSON payloads: 156 MB of text per 1,000
# portfolios). PostgreSQL's default, pglz, takes 3.5 s of the server's CPU to compress that much; lz4 (PostgreSQL
# 14+, when built with it — Debian's, the official images) 1.2 s, and reads it back faster. Set per write
# transaction (``SET LOCAL``), so nothing else on the server changes; a value keeps its method when copied on
# from the staging table.
FAST_COMPRESSION = "lz4"
_fast_compression: dict[str, bool] = {}  # database alias → whether its server offers FAST_COMPRESSION


def _compression_fast(cursor: Any) -> None:
    """Compress this transaction's new large values with :data:`FAST_COMPRESSION` when the server offers it."""
    alias = connection.alias
    if alias not in _fast_compression:
        cursor.execute(
            "SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", [FAST_COMPRESSION]
        )
        row = cursor.fetchone()
        _fast_compression[alias] = bool(row and row[0])
    if _fast_compression[alias]:
        cursor.execute(f"SET LOCAL default_toast_compression = {FAST_COMPRESSION}")


def _copy_and_merge(
    model: type[models.Model],
    fields: list[models.Field],
    rows: Iterable[Sequence[Any]],
    *,
    unique_fields: list[str],
    update_fields: list[str],
) -> int:
    """Store ``rows`` (database values in ``fields`` order) as an upsert on ``unique_fields``.

    First try: COPY straight into the table — the usual case, the day's first run, has no row to
    replace, and this skips a staging copy and an INSERT … SELECT on the server. If a row already
    exists (a rerun), that COPY fails on the unique constraint and is rolled back to its savepoint;
    the rows then go through a temporary table and one INSERT … ON CONFLICT DO UPDATE of
    ``update_fields``.
    """
    from psycopg import errors as pg_errors

    meta = model._meta
    rows = list(rows)
    table = meta.db_table
    quote = connection.ops.quote_name
    quoted = ", ".join(quote(f.column) for f in fields)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
        _compression_fast(raw)
        try:
            with transaction.atomic():  # a savepoint: a conflict undoes this COPY only
                _copy_rows(raw, table, quoted, rows)
            return len(rows)
        except pg_errors.UniqueViolation:  # raised as psycopg's error: the raw cursor is not Django-wrapped
            pass
        stage = f"stage_{table}"
        conflict = ", ".join(quote(_column(meta, f)) for f in unique_fields)
        updates = ", ".join(
            f"{column} = EXCLUDED.{column}" for column in (quote(_column(meta, f)) for f in update_fields)
        )
        cursor.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {quoted} FROM {table} WITH NO DATA")  # noqa: S608
        _copy_rows(raw, stage, quoted, rows)
        cursor.execute(
            f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM {stage} "  # noqa: S608 - names from model meta
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        )
        cursor.execute(f"DROP TABLE {stage}")
    return len(rows)


def _column(meta: Any, name: str) -> str:
    """The database column of a concrete field."""
    field: models.Field[Any, Any] = meta.get_field(name)
    return str(field.column)


def _copy_rows(cursor: Any, table: str, quoted_columns: str, rows: list[Sequence[Any]]) -> None:
    data_changed()  # COPY bypasses Django's execute wrappers: move the change counter at commit
    with cursor.copy(f"COPY {table} ({quoted_columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def factor_fit_rows(
    *, stage: Any, as_of: dt.date, provenance: dict[str, Any]
) -> tuple[FactorModelFit, list[SymbolFactorBeta]]:
    """The day's factor model as rows, unsaved (stored by :func:`factor_fit_write`; the batch also builds the
    run's symbol stage from them): the model (daily covariances as ``{name: {name: value}}``, NaN as None,
    annualised factor vols) and one row per symbol (betas, R², annualised residual vol)."""
    fit = stage.fit
    factor_cov = stage.factor_cov.reindex(index=list(FACTOR_NAMES), columns=list(FACTOR_NAMES))
    model_fit = FactorModelFit(
        as_of=as_of,
        condition_number=float(stage.condition_number),
        n_observations=stage.n_observations,
        factor_covariance={f: {g: _clean(v) for g, v in row.items()} for f, row in factor_cov.iterrows()},
        proxy_covariance={f: {g: _clean(v) for g, v in row.items()} for f, row in stage.proxy_cov.iterrows()},
        factor_volatility={f: _clean(math.sqrt(max(factor_cov.at[f, f], 0.0) * 252)) for f in FACTOR_NAMES},
        **provenance,
    )
    betas = fit.betas.reindex(columns=list(FACTOR_NAMES))
    # Plain dicts and one array, read per symbol: pandas' scalar access (``.at``, ``Series.get``) cost about a
    # second for 1,500 symbols × 8 factors, all of it in the batch's serial part.
    beta_values = betas.to_numpy(dtype=float).tolist()
    residual_vol, univariate = fit.residual_vol.to_dict(), stage.univariate_beta.to_dict()
    alpha, r_squared = fit.alpha.to_dict(), fit.r_squared.to_dict()
    n_obs, quality = fit.n_obs.to_dict(), fit.quality.to_dict()
    rows = []
    for symbol, values in zip(betas.index, beta_values, strict=True):
        beta_row = {f: _clean(v) for f, v in zip(FACTOR_NAMES, values, strict=True)}
        extreme = [f for f, b in beta_row.items() if b is not None and abs(b) > 3.0]
        residual = _clean(residual_vol.get(symbol))
        rows.append(
            SymbolFactorBeta(
                symbol=symbol,
                as_of=as_of,
                betas=beta_row,
                market_beta_univariate=_clean(univariate.get(symbol)),
                alpha_daily=_clean(alpha.get(symbol)),
                r_squared=_clean(r_squared.get(symbol)),
                residual_vol_annual=None if residual is None else residual * math.sqrt(252),
                n_observations=int(n_obs.get(symbol, 0) or 0),
                quality=str(quality.get(symbol, "insufficient")),
                extreme_betas=extreme,
                **provenance,
            )
        )
    return model_fit, rows


def factor_fit_write(*, model_fit: FactorModelFit, rows: list[SymbolFactorBeta]) -> int:
    """Upsert the rows of :func:`factor_fit_rows` in one transaction; returns the rows written."""
    common = list(PROVENANCE_FIELDS)
    with transaction.atomic():
        bulk_upsert(
            FactorModelFit,
            [model_fit],
            unique_fields=["as_of"],
            update_fields=[
                "condition_number",
                "n_observations",
                "factor_covariance",
                "proxy_covariance",
                "factor_volatility",
                *common,
            ],
        )
        bulk_upsert(
            SymbolFactorBeta,
            rows,
            unique_fields=["symbol", "as_of"],
            update_fields=[
                "betas",
                "market_beta_univariate",
                "alpha_daily",
                "r_squared",
                "residual_vol_annual",
                "n_observations",
                "quality",
                "extreme_betas",
                *common,
            ],
        )
    return 1 + len(rows)


class StoredFit:
    """The parts of a factor fit the portfolio steps use, rebuilt from stored rows (for fan-out workers)."""

    def __init__(self, rows: Iterable[SymbolFactorBeta]) -> None:
        rows = list(rows)
        symbols = [r.symbol for r in rows]
        self.betas = pd.DataFrame([r.betas for r in rows], index=symbols, columns=list(FACTOR_NAMES), dtype=float)
        self.quality = pd.Series([r.quality for r in rows], index=symbols, dtype=object)
        self.r_squared = pd.Series(
            [np.nan if r.r_squared is None else r.r_squared for r in rows], index=symbols, dtype=float
        )
        self.residual_vol = pd.Series(
            [np.nan if r.residual_vol_annual is None else r.residual_vol_annual / math.sqrt(252) for r in rows],
            index=symbols,
            dtype=float,
        )
        self.univariate = pd.Series(
            [np.nan if r.market_beta_univariate is None else r.market_beta_univariate for r in rows],
            index=symbols,
            dtype=float,
        )


def position_metrics_upsert(
    *,
    columns: Mapping[str, Sequence[Any]],
    update_fields: list[str],
    portfolio_ids: Sequence[uuid.UUID],
    as_of: dt.date,
) -> int:
    """Upsert the given columns of position metrics (column-wise, attnames); rows of positions no longer
    open are removed."""
    with transaction.atomic():
        stored = PositionMetrics.objects.filter(portfolio_id__any=list(portfolio_ids), as_of=as_of)
        # The day's first run has nothing to remove: one cheap query instead of sending every position id.
        if stored.exists():
            # ``__any``: the chunk's 15,000 position ids as one array, not 15,000 placeholders (core.lookups).
            stored.exclude(position_id__any=list(set(columns["position_id"]))).delete()
        return bulk_upsert_columns(
            PositionMetrics,
            columns,
            unique_fields=["position", "as_of"],
            update_fields=[*update_fields, *PROVENANCE_FIELDS],
        )


def portfolio_results_upsert(*, rows: list[PortfolioResult]) -> int:
    return bulk_upsert(
        PortfolioResult,
        rows,
        unique_fields=["portfolio", "kind", "as_of"],
        update_fields=["payload", *PROVENANCE_FIELDS],
    )


def snapshots_upsert(*, rows: list[PortfolioSnapshot]) -> int:
    return bulk_upsert(
        PortfolioSnapshot,
        rows,
        unique_fields=["portfolio", "as_of"],
        update_fields=[*SNAPSHOT_VALUE_FIELDS, *PROVENANCE_FIELDS],
    )


def provenance_fields(
    *,
    run: Any,
    as_of: dt.date,
    data_source: str,
    method: str,
    lookback: int | None,
    inputs: dict[str, Any],
    stale: list[str],
) -> dict[str, Any]:
    """The provenance columns of a result row; ``stale`` lists symbols without a price on ``as_of``."""
    reason = ""
    if stale:
        shown = ", ".join(stale[:10]) + (" …" if len(stale) > 10 else "")
        reason = f"no price on {as_of.isoformat()} for: {shown}"
    return {
        "method": method,
        "lookback_days": lookback,
        "data_source": data_source,
        "inputs": inputs,
        "is_stale": bool(stale),
        "stale_reason": reason[:300],
        "batch_run": run,
    }
