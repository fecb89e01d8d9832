"""The database's change counter (``core.datachange``), read by the response cache."""

from __future__ import annotations

import secrets

from django.db import migrations, models


def start_counter(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The row, at a random value: answers cached under an earlier database's numbers are never found."""
    apps.get_model("analytics", "DataChange").objects.using(schema_editor.connection.alias).create(
        id=1, value=secrets.randbelow(2**62) + 1
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0009_batch_heartbeat_refusals")]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                ("id", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ("value", models.BigIntegerField()),
            ],
            options={"db_table": "sigmasight_data_change", "ordering": ["id"]},
        ),
        migrations.RunPython(start_counter, migrations.RunPython.noop),
    ]
