"""Take the snapshot that sector figures counting private attestations come from."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from registry.privacy import build_snapshot


class Command(BaseCommand):
    help = (
        "Freeze every company's groups and covered cells (private attestations included) "
        "on a date, for the sector figures (registry.privacy). One snapshot per date: "
        "a second run for the same date changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="ISO date (default today); not in the future")

    def handle(self, *args, **options):
        try:
            on = dt.date.fromisoformat(options["date"]) if options["date"] else dt.date.today()
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        if on > dt.date.today():
            raise CommandError("--date: a snapshot cannot be of a date still to come")
        snapshot, created = build_snapshot(on)
        verb = "Took" if created else "Kept the existing"
        self.stdout.write(
            f"{verb} sector snapshot of {snapshot.taken_on} ({snapshot.company_count} companies)"
        )
