"""Writes of risk limits: create, change, delete — one validation for the API, the admin and the web page."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from analytics.engines.limits import levels_check
from analytics.models import LimitMetric, RiskLimit
from core.exceptions import ApplicationError, ConflictError
from marketdata.factors import FACTOR_NAMES
from portfolios.models import Portfolio

LEVEL_FIELDS = ("warning_level", "hard_level", "lower_warning", "lower_hard")


def limit_problems(*, metric: str, factor: str, underlying: str, levels: dict[str, float | None]) -> dict[str, str]:
    """Problems with a limit's fields, by field name (empty when it is valid)."""
    problems: dict[str, str] = {}
    if metric not in LimitMetric.values:
        problems["metric"] = f"must be one of {', '.join(LimitMetric.values)}"
    if metric == LimitMetric.FACTOR_BETA:
        if factor not in FACTOR_NAMES:
            problems["factor"] = f"a factor_beta limit needs a factor: one of {', '.join(FACTOR_NAMES)}"
    elif factor:
        problems["factor"] = "only a factor_beta limit names a factor"
    if underlying and metric != LimitMetric.UNDERLYING_DOLLAR_DELTA:
        problems["underlying"] = "only an underlying_dollar_delta limit names an underlying"
    problems.update(
        levels_check(
            warning=levels["warning_level"],
            hard=levels["hard_level"],
            lower_warning=levels["lower_warning"],
            lower_hard=levels["lower_hard"],
        )
    )
    return problems


def _validated_save(limit: RiskLimit) -> RiskLimit:
    limit.underlying = limit.underlying.strip().upper()
    problems = limit_problems(
        metric=limit.metric,
        factor=limit.factor,
        underlying=limit.underlying,
        levels={name: getattr(limit, name) for name in LEVEL_FIELDS},
    )
    if problems:
        field, message = next(iter(problems.items()))
        raise ApplicationError(f"{field}: {message}", details=problems)
    try:
        with transaction.atomic():
            limit.save()
    except IntegrityError:
        raise ConflictError(
            "This portfolio already has a limit on that figure; change it instead.",
            details={"metric": limit.metric, "factor": limit.factor, "underlying": limit.underlying},
        ) from None
    return limit


def limit_create(*, portfolio: Portfolio, metric: str, **fields: Any) -> RiskLimit:
    """A new limit on ``portfolio`` (400 naming the field when invalid, 409 when one on that figure exists)."""
    return _validated_save(RiskLimit(portfolio=portfolio, metric=metric, **fields))


def limit_update(*, limit: RiskLimit, **changes: Any) -> RiskLimit:
    """Change a limit's fields (validated as a whole after the change)."""
    for name, value in changes.items():
        setattr(limit, name, value)
    return _validated_save(limit)


def limit_delete(*, limit: RiskLimit) -> None:
    """Delete a limit; its alerts stay as history (their ``limit`` becomes null, the label is kept)."""
    limit.delete()
