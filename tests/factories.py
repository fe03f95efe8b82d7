"""Small builders for synthetic standards next to the reference data."""

from itertools import count

from taxonomy.models import Cell, Standard, StandardCell, StandardLink

_seq = count(1)


def make_standard(cells=(), code=None, **fields) -> Standard:
    n = next(_seq)
    defaults = {
        "code": code or f"test-std-{n}",
        "name": f"Test standard {n}",
        "short_name": f"T{n}",
        "kind": "industry_initiative",
        "jurisdiction": "INT",
        "year": 2020,
        "binding": False,
    }
    defaults.update(fields)
    standard = Standard.objects.create(**defaults)
    for code_ in cells:
        StandardCell.objects.create(standard=standard, cell=Cell.objects.get(code=code_))
    return standard


def link(source, target, kind="incorporates") -> StandardLink:
    return StandardLink.objects.create(source=source, target=target, kind=kind)


# --- Registry -------------------------------------------------------------

import datetime as dt  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402

from registry.models import (  # noqa: E402
    Attestation,
    Company,
    Membership,
    Organisation,
    StatusChange,
)


def make_org(name=None, kind="company", **fields) -> Organisation:
    return Organisation.objects.create(name=name or f"Org {next(_seq)}", kind=kind, **fields)


def make_user(org=None, role="compliance_officer", username=None, **fields):
    user = get_user_model().objects.create_user(
        username or f"user{next(_seq)}", password="pw-test-123", **fields
    )
    if org is not None:
        Membership.objects.create(user=user, organisation=org, role=role)
    return user


def make_company(name=None, stages=("refining",), country="CN", **fields) -> Company:
    company = Company.objects.create(
        legal_name=name or f"Company {next(_seq)}", country=country, **fields
    )
    company.stages.set(Cell.objects.filter(code__in=[f"application.{s}" for s in stages]))
    return company


def make_attestation(
    company,
    standard_code,
    owner,
    timeline=(("verified", "2024-01-01"),),
    type="third_party_audit",
    visibility="public",
    valid_from="2024-01-01",
    valid_until=None,
    shared_with=(),
    **fields,
) -> Attestation:
    """An attestation with a status history; `timeline` lists (status, effective date)
    after submission, which is dated `valid_from`."""
    steps = [("submitted", valid_from)]
    for status, day in timeline:
        if status == "verified" and steps[-1][0] == "submitted":
            steps.append(("under_review", day))
        steps.append((status, day))
    attestation = Attestation.objects.create(
        company=company,
        standard=Standard.objects.get(code=standard_code),
        type=type,
        status=steps[-1][0],
        valid_from=dt.date.fromisoformat(valid_from),
        valid_until=dt.date.fromisoformat(valid_until) if valid_until else None,
        owner=owner,
        visibility=visibility,
        **fields,
    )
    attestation.shared_with.set(shared_with)
    previous = ""
    for status, day in steps:
        StatusChange.objects.create(
            attestation=attestation,
            from_status=previous,
            to_status=status,
            effective=dt.date.fromisoformat(day),
        )
        previous = status
    return attestation
