"""Trigram indexes for the site search (/search/): a company's other names and a mine's
name, matched by `icontains` as the legal name already is (0010).

PostgreSQL only, built CONCURRENTLY (no long lock); nothing on SQLite. No model state
changes, so `makemigrations --check` stays clean.
"""

from django.db import migrations

INDEXES = [
    ("company_aliases_trgm_idx", "registry_company", "aliases"),
    ("minedsource_name_trgm_idx", "registry_minedsource", "name"),
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
        ("registry", "0013_rule_in_force"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
