"""Trigram indexes for the site search (/search/): a passport's identifiers, matched by
`icontains` (20,000 passports: 21 ms scanned for a word that matches none).

PostgreSQL only, built CONCURRENTLY (no long lock); nothing on SQLite. No model state
changes, so `makemigrations --check` stays clean.
"""

from django.db import migrations

from config.migration_ops import trigram_indexes


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY refuses to run in a transaction.
    atomic = False

    dependencies = [
        ("passports", "0005_batterymodel_gtin"),
    ]

    operations = [
        trigram_indexes(
            [
                ("passport_internal_id_trgm_idx", "passports_batterypassport", "internal_id"),
                ("passport_batterypass_id_trgm_idx", "passports_batterypassport", "batterypass_id"),
            ]
        ),
    ]
