"""Result payloads as PostgreSQL ``json`` (see ``core.fields.JSONDocumentField``), compressed with lz4
where the server supports it (PostgreSQL 14+ built with lz4; otherwise the default pglz stays)."""

from django.db import migrations

import core.fields


def payload_compression_lz4(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return
    table = apps.get_model("analytics", "PortfolioResult")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone():
            cursor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} ALTER COLUMN payload SET COMPRESSION lz4")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_widen_method"),
    ]

    operations = [
        migrations.AlterField(
            model_name="portfolioresult",
            name="payload",
            field=core.fields.JSONDocumentField(),
        ),
        migrations.RunPython(payload_compression_lz4, migrations.RunPython.noop),
    ]
