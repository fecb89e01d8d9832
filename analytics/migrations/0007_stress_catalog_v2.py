"""Stress catalog version 2: the two rotation scenarios hold the market still (``"market": 0.0``).

In version 1 the conditioning filled the unstated market from the style shock: "small caps
outperform 10%" implied a ~7% market rally. Databases seeded from version 1 get the change unless
an admin already set a market shock on those scenarios (then the admin's value is kept). A fresh
database is seeded from the version-2 file by 0002 and this migration finds nothing to do.
"""

from django.db import migrations

# (scenario id, shock key, version 1 value (None: not stated), version 2 value)
V2_CHANGES = [
    ("value_rotation_20", "market", None, 0.0),
    ("small_cap_outperformance_10", "market", None, 0.0),
]


def apply_v2(apps, schema_editor):
    from analytics.services.catalog import ShockChange, stress_catalog_changes_apply

    stress_catalog_changes_apply(
        changes=[ShockChange(*change) for change in V2_CHANGES], model=apps.get_model("analytics", "StressScenario")
    )


def revert_v2(apps, schema_editor):
    from analytics.services.catalog import ShockChange, stress_catalog_changes_apply

    stress_catalog_changes_apply(
        changes=[ShockChange(scenario, key, new, old) for scenario, key, old, new in V2_CHANGES],
        model=apps.get_model("analytics", "StressScenario"),
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0006_position_metrics_plural_name")]
    operations = [migrations.RunPython(apply_v2, revert_v2)]
