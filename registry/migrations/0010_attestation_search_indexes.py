"""Trigram indexes for the admin's attestation search (company, owner, reference).

PostgreSQL only: `UPPER(name) LIKE UPPER('%term%')` (Django's `icontains`) can use a
pg_trgm GIN index on the same expression instead of reading every row. Built
CONCURRENTLY (no long lock). SQLite has no such index and its databases are small:
there the operation does nothing. No model state changes, so `makemigrations --check`
stays clean.
"""

from django.db import migrations

INDEXES = [
    ("company_legal_name_trgm_idx", "registry_company", "legal_name"),
    ("organisation_name_trgm_idx", "registry_organisation", "name"),
    ("attestation_reference_trgm_idx", "registry_attestation", "reference"),
]


def _postgresql(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def forwards(apps, schema_editor):
    if not _postgresql(schema_editor):
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def backwards(apps, schema_editor):
    if not _postgresql(schema_editor):
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY refuses to run in a transaction.
    atomic = False

    dependencies = [
        ("registry", "0009_kept_results"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
