"""Kept results computed before the trace fix of 2026-12-07 (a supplier whose sale to one
buyer carried nothing held back what its other sales brought, and that mass vanished)
are made stale, as a write to their inputs would: each is refreshed when next asked for,
served marked stale meanwhile."""

from django.db import migrations
from django.db.models import F


def make_kept_results_stale(apps, schema_editor):
    generation = apps.get_model("registry", "InputGeneration")
    row, created = generation.objects.get_or_create(name="inputs", defaults={"value": 1})
    if not created:
        generation.objects.filter(pk=row.pk).update(value=F("value") + 1)


class Migration(migrations.Migration):
    dependencies = [("registry", "0015_kept_grades")]

    operations = [
        migrations.RunPython(make_kept_results_stale, migrations.RunPython.noop, elidable=True)
    ]
