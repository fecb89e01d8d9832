"""One name per result kind: the stored kinds and batch steps take the names of the kinds' API segments.

``factor_exposure`` → ``factor_exposures`` and ``market_scenarios`` → ``market_risk`` (stored kinds);
the steps ``aggregation``, ``factors``, ``market_scenarios`` and ``stress_tests`` of earlier runs become
``overview``, ``factor_exposures``, ``market_risk`` and ``stress_test``. Reversible.
"""

from __future__ import annotations

from django.db import migrations, models

import analytics.models

KINDS = {"factor_exposure": "factor_exposures", "market_scenarios": "market_risk"}
STEPS = {
    "aggregation": "overview",
    "factors": "factor_exposures",
    "market_scenarios": "market_risk",
    "stress_tests": "stress_test",
}


def _rename(apps, kinds: dict[str, str], steps: dict[str, str]) -> None:
    PortfolioResult = apps.get_model("analytics", "PortfolioResult")
    BatchJob = apps.get_model("analytics", "BatchJob")
    BatchRun = apps.get_model("analytics", "BatchRun")
    for old, new in kinds.items():
        PortfolioResult.objects.filter(kind=old).update(kind=new)
    for old, new in steps.items():
        BatchJob.objects.filter(step=old).update(step=new)
    for run in BatchRun.objects.only("id", "steps").iterator():
        renamed = [steps.get(step, step) for step in run.steps or []]
        if renamed != run.steps:
            run.steps = renamed
            run.save(update_fields=["steps"])


def forwards(apps, schema_editor) -> None:
    _rename(apps, KINDS, STEPS)


def backwards(apps, schema_editor) -> None:
    _rename(apps, {new: old for old, new in KINDS.items()}, {new: old for old, new in STEPS.items()})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0004_result_payload_json_document")]

    operations = [
        migrations.AlterField(
            model_name="portfolioresult",
            name="kind",
            field=models.CharField(choices=analytics.models.result_kind_choices, max_length=30),
        ),
        migrations.RunPython(forwards, backwards),
    ]
