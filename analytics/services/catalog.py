"""The stress scenario catalog: the project's copy of the 22 scenarios, seeded into ``StressScenario``."""

from __future__ import annotations

import json
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
