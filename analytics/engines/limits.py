"""Limit status: where a measured value stands against a limit's warning and hard levels. Pure, no Django.

A limit bounds a value from above (``warning``, ``hard``), from below (``lower_warning``, ``lower_hard``,
for two-sided limits such as a factor beta's bounds), or both; a level left as None is not checked.
A value **equal** to a level is within it: only going beyond a level counts (``value > hard`` is a breach
of an upper limit, ``value < lower_hard`` of a lower one). The hard level wins over the warning level.
A missing value (None or NaN: the input was not computed) has no status of its own: ``NO_DATA``.
"""

from __future__ import annotations

import math

OK = "OK"
WARN = "WARN"
BREACH = "BREACH"
NO_DATA = "NO_DATA"
STATUSES = (OK, WARN, BREACH, NO_DATA)
# How bad a status is, for the worst of several (NO_DATA sits between OK and WARN: unknown is not fine).
SEVERITY = {OK: 0, NO_DATA: 1, WARN: 2, BREACH: 3}


def limit_status(
    value: float | None,
    *,
    warning: float | None = None,
    hard: float | None = None,
    lower_warning: float | None = None,
    lower_hard: float | None = None,
) -> str:
    """OK, WARN, BREACH or NO_DATA for ``value`` against the levels (see the module docstring)."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if (hard is not None and value > hard) or (lower_hard is not None and value < lower_hard):
        return BREACH
    if (warning is not None and value > warning) or (lower_warning is not None and value < lower_warning):
        return WARN
    return OK


def worst_status(statuses: list[str]) -> str:
    """The most severe of ``statuses`` (OK when there are none)."""
    return max(statuses, key=SEVERITY.__getitem__, default=OK)


def levels_check(
    *,
    warning: float | None,
    hard: float | None,
    lower_warning: float | None,
    lower_hard: float | None,
) -> dict[str, str]:
    """Problems with a set of levels, by field name (empty when they are consistent): at least one level;
    an upper warning not above its hard level; a lower warning not below its hard level; lower under upper."""
    problems: dict[str, str] = {}
    if all(v is None for v in (warning, hard, lower_warning, lower_hard)):
        problems["hard_level"] = "give at least one level (warning_level, hard_level, lower_warning, lower_hard)"
    if warning is not None and hard is not None and warning > hard:
        problems["warning_level"] = "must not be above hard_level (a warning comes before the breach)"
    if lower_warning is not None and lower_hard is not None and lower_warning < lower_hard:
        problems["lower_warning"] = "must not be below lower_hard (a warning comes before the breach)"
    uppers = [v for v in (warning, hard) if v is not None]
    lowers = [v for v in (lower_warning, lower_hard) if v is not None]
    if uppers and lowers and max(lowers) > min(uppers):
        problems["lower_warning" if lower_warning is not None else "lower_hard"] = "must be below the upper levels"
    return problems
