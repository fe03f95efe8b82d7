"""Verify a credential offline: `manage.py verify_credential FILE --did-document did.json
[--status-list FILE]`. Exit code 0 when it verifies, 1 (with the reason) when it does not."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from credentials import keys, sdjwt
from credentials.verify import read_credential, verify_offline


class Command(BaseCommand):
    requires_system_checks: list = []  # offline tools: no URL or model checks needed
    help = "Verify a credential (SD-JWT VC) offline against a DID document and a status list."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The credential: compact SD-JWT, or the API's JSON")
        parser.add_argument(
            "--did-document",
            help="The issuer's DID document (/.well-known/did.json); default: this server's keys",
        )
        parser.add_argument("--status-list", help="The status list credential (vc+jwt) to check")

    def handle(self, *args, file, did_document=None, status_list=None, **options):
        try:
            credential = read_credential(_read(file))
            # Offline: the DID document given; else this server's own keys.
            document = json.loads(_read(did_document)) if did_document else keys.did_document()
            listed = _read(status_list).strip() if status_list else None
            claims, notes = verify_offline(credential, document, listed)
        except (sdjwt.Invalid, keys.CredentialsUnavailable, ValueError) as error:
            raise CommandError(f"NOT VERIFIED: {error}", returncode=1) from None
        subject = claims.get("credentialSubject", {})
        self.stdout.write(
            self.style.SUCCESS(f"VERIFIED: {claims.get('id')}")
            + f" ({', '.join(claims.get('type', []))}; {'; '.join(notes)})"
        )
        if "batteryPass" in subject:
            self.stdout.write("disclosed aspects: " + ", ".join(sorted(subject["batteryPass"])))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CommandError(
            f"NOT VERIFIED: cannot read {path}: {error.strerror}", returncode=1
        ) from None
