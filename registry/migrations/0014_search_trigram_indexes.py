"""Trigram indexes for the site search (/search/): a company's other names and a mine's
name, matched by `icontains` as the legal name already is (0010).

PostgreSQL only, built CONCURRENTLY (no long lock); nothing on SQLite. No model state
changes, so `makemigrations --check` stays clean.
"""

from django.db import migrations

from config.migration_ops import trigram_indexes


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY refuses to run in a transaction.
    atomic = False

    dependencies = [
        ("registry", "0013_rule_in_force"),
    ]

    operations = [
        trigram_indexes(
            [
                ("company_aliases_trgm_idx", "registry_company", "aliases"),
                ("minedsource_name_trgm_idx", "registry_minedsource", "name"),
            ]
        ),
    ]
