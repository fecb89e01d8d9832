"""Seed the 22 stress scenarios of fixtures/stress_scenarios.json (existing rows, maybe edited in the admin, are kept)."""

import json
from pathlib import Path

from django.db import migrations

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "stress_scenarios.json"


def seed(apps, schema_editor):
    StressScenario = apps.get_model("analytics", "StressScenario")
    catalog = json.loads(FIXTURE.read_text(encoding="utf-8"))["scenarios"]
    existing = set(StressScenario.objects.values_list("id", flat=True))
    StressScenario.objects.bulk_create(
        [
            StressScenario(
                id=s["id"],
                name=s["name"],
                category=s["category"],
                severity=s["severity"],
                shocks=s["shocks"],
                implied_vol_shift=s.get("implied_vol_shift", 0.0),
                description=s.get("description", ""),
            )
            for s in catalog
            if s["id"] not in existing
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
