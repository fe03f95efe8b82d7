"""Make (or rotate) a development signing key: `manage.py credential_devkey [--rotate]`.

Writes CREDENTIAL_SIGNING_KEYS_FILE (default var/credential-keys.json, outside the
repository). Without --rotate an existing file is left alone, so `make run` keeps its key."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from credentials.keys import new_key_set


class Command(BaseCommand):
    requires_system_checks: list = []  # offline tools: no URL or model checks needed
    help = "Make a development credential signing key under var/ (or append a new one)."

    def add_arguments(self, parser):
        parser.add_argument("--rotate", action="store_true", help="Append a new signing key")

    def handle(self, *args, rotate=False, **options):
        path = Path(
            settings.CREDENTIAL_SIGNING_KEYS_FILE
            or settings.BASE_DIR / "var" / "credential-keys.json"
        )
        existing = json.loads(path.read_text()) if path.exists() else None
        if existing and not rotate:
            self.stdout.write(f"Credential signing keys: {path} (kept)")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(new_key_set(existing), indent=2))
        path.chmod(0o600)
        self.stdout.write(f"Credential signing keys: {path} ({'rotated' if existing else 'made'})")
