"""The stress scenario catalog: the project's copy of the 22 scenarios, seeded into ``StressScenario``.

A new catalog version reaches existing databases through a data migration that lists what changed
(``ShockChange``) and applies it with ``stress_catalog_changes_apply``: a shock the admin left as the
previous version had it is updated; one an admin edited keeps the admin's value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOG_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stress_scenarios.json"


def stress_catalog_load(path: Path = CATALOG_FIXTURE) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["scenarios"]


def stress_scenarios_seed(*, model: Any = None) -> int:
    """Insert the catalog's scenarios that are missing; rows already there (maybe edited in the admin) are kept.

    ``model`` lets the data migration pass its historical model. Returns the number of rows created.
    """
    if model is None:
        from analytics.models import StressScenario as model
    existing = set(model.objects.values_list("id", flat=True))
    rows = [
        model(
            id=s["id"],
            name=s["name"],
            category=s["category"],
            severity=s["severity"],
            shocks=s["shocks"],
            implied_vol_shift=s.get("implied_vol_shift", 0.0),
            description=s.get("description", ""),
        )
        for s in stress_catalog_load()
        if s["id"] not in existing
    ]
    model.objects.bulk_create(rows)
    return len(rows)


@dataclass(frozen=True)
class ShockChange:
    """One shock of one scenario that a catalog version changed; ``None`` means "not stated"."""

    scenario_id: str
    key: str
    old: float | None
    new: float | None


@dataclass(frozen=True)
class CatalogChangeOutcome:
    applied: int  # shocks updated to the new version
    already: int  # rows that already had the new value (a fresh database seeded from the new file)
    kept_edits: int  # shocks an admin had edited: left as edited
    missing: int  # scenarios no longer in the table (deleted in the admin): not re-created here


def stress_catalog_changes_apply(*, changes: Iterable[ShockChange], model: Any = None) -> CatalogChangeOutcome:
    """Apply a catalog version's shock changes to the stored scenarios (a three-way merge per shock).

    For each change: if the row's shock still has the previous version's value (or is still absent),
    it takes the new one (or is removed when the new version drops it); if it already has the new
    value nothing happens; if an admin set something else, the admin's value is kept. ``model`` lets
    a data migration pass its historical model.
    """
    if model is None:
        from analytics.models import StressScenario as model
    applied = already = kept = missing = 0
    for change in changes:
        row = model.objects.filter(pk=change.scenario_id).first()
        if row is None:
            missing += 1
            continue
        current = row.shocks.get(change.key)
        if current == change.new:
            already += 1
        elif current == change.old:
            shocks = dict(row.shocks)
            if change.new is None:
                shocks.pop(change.key, None)
            else:
                shocks[change.key] = change.new
            row.shocks = shocks
            row.save(update_fields=["shocks"])
            applied += 1
        else:
            kept += 1
    return CatalogChangeOutcome(applied=applied, already=already, kept_edits=kept, missing=missing)
