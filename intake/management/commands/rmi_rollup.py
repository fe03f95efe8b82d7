"""Write an organisation's own EMRT/CMRT/AMRT rolled up from its suppliers' current
declarations into RMI's blank template."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake.rmi import layout, services
from registry.models import Organisation

LATEST = {"EMRT": "2.1", "CMRT": "6.5", "AMRT": "1.3"}


class Command(BaseCommand):
    help = "Roll an organisation's suppliers' RMI declarations up into its own template."

    def add_arguments(self, parser):
        parser.add_argument("organisation", help="The organisation's name")
        parser.add_argument("out", help="Where to write the .xlsx")
        parser.add_argument("--template", default="EMRT", choices=sorted(LATEST))
        parser.add_argument("--template-version", dest="template_version", default=None)
        parser.add_argument("--contact", default="", help="Contact name (and authoriser)")
        parser.add_argument("--email", default="", help="Contact email (and authoriser's)")
        parser.add_argument("--phone", default="")

    def handle(self, *args, **opts):
        org = Organisation.objects.filter(name=opts["organisation"]).select_related("company")
        org = org.first()
        if org is None:
            raise CommandError(f"No organisation named {opts['organisation']!r}.")
        template = opts["template"]
        version = opts["template_version"] or LATEST[template]
        if (template, version) not in layout.LAYOUTS:
            raise CommandError(f"{template} {version} is not a known version.")
        company = {
            "name": org.company.legal_name if org.company else org.name,
            "scope": "A. Company",
            "contact_name": opts["contact"],
            "contact_email": opts["email"],
            "contact_phone": opts["phone"],
            "authoriser": opts["contact"],
            "authoriser_email": opts["email"],
            "effective_date": dt.date.today(),
        }
        path, result = services.rollup_for(
            owner=org,
            template=template,
            version=version,
            company=company,
            out=Path(opts["out"]),
        )
        self.stdout.write(
            json.dumps(
                {
                    "written": str(path),
                    "template": template,
                    "version": version,
                    "minerals": result.minerals,
                    "answers": result.answers,
                    "smelters": len(result.smelters),
                    "response_rates": result.response_rates,
                    "rules": result.rules,
                },
                indent=2,
            )
        )
