"""Seed the 22 stress scenarios of fixtures/stress_scenarios.json (existing rows, maybe edited in the admin, are kept)."""

from django.db import migrations


def seed(apps, schema_editor):
    from analytics.services.catalog import stress_scenarios_seed

    stress_scenarios_seed(model=apps.get_model("analytics", "StressScenario"))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
