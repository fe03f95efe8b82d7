"""Bulk tables in and out (CSV / XLSX): companies, facilities, mines with their owners,
attestations, supply relationships, production statistics.

One pass per import, streamed in batches: each row is parsed (its own columns), then each
batch is resolved against the registry (companies by LEI or name) and written through the
registry's own rules (registry.permissions, registry.services, the models' validation).
A dry run does the same inside a transaction that is rolled back, so it reports exactly
what a commit would do (created, updated, matched) and every row error (row, column,
message); a commit is rolled back whole if any row has an error (intake.services).

Natural keys make a re-import change nothing: a company is its LEI (else its name and
country), a facility its RMI id (else company, name and country), a mine its name and
country, a relationship its supplier, buyer, mineral, material, stage and period, a
production figure its product, stage, year and country (or WORLD / OTHER).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django_countries import countries
from simple_history.utils import bulk_create_with_history

from registry import permissions as perms
from registry.models import (
    Attestation,
    Company,
    Facility,
    Feedstock,
    Material,
    MinedSource,
    ProductionStatistic,
    SupplyRelationship,
    validate_cid,
    validate_lei,
)
from registry.querysets import Requester
from registry.services import (
    attestation_create,
    mine_set_owners,
    validate_owner_shares,
    validate_relationships,
)
from taxonomy.models import Cell, Mineral, Standard

from .context import Context, Head, ImportRefused
from .kinds import Kind, register
from .readers import Formula, iter_rows

BATCH = 1000
PROGRESS_EVERY = 500
UNITS = {"t": Decimal(1), "kt": Decimal(1000), "Mt": Decimal(1_000_000)}


class RowError(Exception):
    def __init__(self, column: str | None, message: str):
        super().__init__(message)
        self.column, self.message = column, message


# --- Values -------------------------------------------------------------------------


def _text(row: dict, column: str, *, required: bool = False, max_length: int = 0) -> str:
    value = row.get(column)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise RowError(column, f"{column} is required.")
    if max_length and len(value) > max_length:
        raise RowError(column, f"{column} is longer than {max_length} characters.")
    return value


@functools.cache
def _country_codes() -> frozenset[str]:
    return frozenset(code for code, _ in countries)


@functools.cache
def _country_name(code: str) -> str:
    return str(countries.name(code))


def _country(row: dict, column: str = "country", *, required: bool = True) -> str:
    raw = _text(row, column, required=required)
    if not raw:
        return ""
    code = raw.upper() if raw.upper() in _country_codes() else countries.by_name(raw)
    if not code:
        raise RowError(column, f"{raw!r} is not an ISO country code (e.g. CD, CN, AU).")
    return code


def _decimal(row: dict, column: str, *, required: bool = False) -> Decimal | None:
    raw = row.get(column)
    if raw is None or raw == "":
        if required:
            raise RowError(column, f"{column} is required.")
        return None
    try:
        value = Decimal(str(raw).replace(",", "").replace(" ", ""))
    except InvalidOperation as exc:
        raise RowError(column, f"{raw!r} is not a number.") from exc
    if not value.is_finite():
        raise RowError(column, f"{raw!r} is not a number.")
    return value


def _date(row: dict, column: str, *, required: bool = False) -> dt.date | None:
    raw = row.get(column)
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    raw = _text(row, column, required=required)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise RowError(column, f"{raw!r} is not a date (YYYY-MM-DD).") from exc


def _choice(row: dict, column: str, choices, *, required: bool = True, default: str = "") -> str:
    raw = _text(row, column, required=required).lower().replace(" ", "_").replace("-", "_")
    if not raw:
        return default
    allowed = {value for value, _ in choices}
    if raw not in allowed:
        raise RowError(column, f"{raw!r} is not one of {', '.join(sorted(allowed))}.")
    return raw


def _list(row: dict, column: str) -> list[str]:
    return [p.strip() for p in _text(row, column).replace(",", ";").split(";") if p.strip()]


def _bool(row: dict, column: str) -> bool:
    raw = _text(row, column).lower()
    if raw in ("", "0", "no", "false", "n"):
        return False
    if raw in ("1", "yes", "true", "y"):
        return True
    raise RowError(column, f"{raw!r} is not yes or no.")


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


# --- References, resolved per batch --------------------------------------------------


class Refs:
    """Minerals, stages, standards, and companies by LEI or name (cached per job)."""

    def __init__(self):
        self.minerals = {m.code: m for m in Mineral.objects.all()}
        self.stages = {
            c.code.split(".", 1)[1]: c for c in Cell.objects.filter(dimension__code="application")
        }
        self._standards: dict[str, Standard] | None = None
        self.companies: dict[str, Company | None] = {}

    @property
    def standards(self) -> dict[str, Standard]:
        if self._standards is None:
            self._standards = {s.code: s for s in Standard.objects.all()}
        return self._standards

    def mineral(self, row: dict, column: str = "mineral") -> Mineral:
        code = _text(row, column, required=True).lower()
        if code not in self.minerals:
            raise RowError(
                column, f"{code!r} is not a mineral ({', '.join(sorted(self.minerals))})."
            )
        return self.minerals[code]

    def minerals_of(self, row: dict, column: str = "minerals") -> list[Mineral]:
        found = []
        for code in _list(row, column):
            if code.lower() not in self.minerals:
                raise RowError(column, f"{code!r} is not a mineral.")
            found.append(self.minerals[code.lower()])
        return found

    def stage(self, row: dict, column: str = "stage") -> Cell:
        code = _text(row, column, required=True).lower()
        code = code.removeprefix("application.")
        if code not in self.stages:
            raise RowError(column, f"{code!r} is not a stage ({', '.join(sorted(self.stages))}).")
        return self.stages[code]

    def load_companies(self, refs: set[str]) -> None:
        """Look up the companies a batch names (LEI or legal name) in one query."""
        wanted = {r for r in refs if r and r.lower() not in self.companies}
        if not wanted:
            return
        if len(self.companies) > 50_000:  # bounded memory on huge files
            self.companies.clear()
        leis = {r.upper() for r in wanted}
        names = set(wanted)
        found = Company.objects.filter(Q(lei__in=leis) | Q(legal_name__in=names))
        by_name: dict[str, list[Company]] = {}
        for company in found:
            if company.lei:
                self.companies[company.lei.lower()] = company
            by_name.setdefault(company.legal_name.lower(), []).append(company)
        for name, matches in by_name.items():
            # Two companies of one name: the name does not say which; use the LEI.
            self.companies[name] = matches[0] if len(matches) == 1 else None
            if len(matches) > 1:
                self.companies[f"ambiguous:{name}"] = matches[0]
        for r in wanted:
            self.companies.setdefault(r.lower(), None)

    def company(self, ref: str, column: str, *, required: bool = True) -> Company | None:
        if not ref:
            if required:
                raise RowError(column, f"{column} is required.")
            return None
        company = self.companies.get(ref.lower())
        if company is None:
            if f"ambiguous:{ref.lower()}" in self.companies:
                raise RowError(column, f"Several companies are named {ref!r}: give the LEI.")
            raise RowError(
                column, f"No company {ref!r} in the registry (by LEI or exact legal name)."
            )
        return company

    def remember(self, company: Company) -> None:
        self.companies[company.legal_name.lower()] = company
        if company.lei:
            self.companies[company.lei.lower()] = company


# --- The tables ------------------------------------------------------------------------


@dataclass
class Table:
    code: str
    label: str
    columns: list[str]
    example: dict[str, str]
    # (row, refs) -> (natural key, values); raises RowError. Pure: no query.
    parse: Callable[[dict, Refs], tuple[Any, dict]]
    # (items [(row number, key, values)], ctx, refs) -> None: resolves, checks, writes.
    write: Callable[[list, Context, Refs], None]
    # () -> rows of values in `columns` order.
    export: Callable[[], Iterator[list]]
    # Columns whose values name companies (resolved in bulk per batch).
    company_columns: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def required(self) -> list[str]:
        return [c for c in self.columns if c in self.extra.get("required", self.columns)]


def _problem(ctx: Context, table: Table, number: int, column: str | None, message: str):
    ctx.problem(message, row=number, column=column, sheet=table.code)


def _guard(ctx: Context, table: Table, number: int, fn: Callable[[], Any]) -> bool:
    """Run one row's write; a refusal becomes that row's error."""
    try:
        fn()
    except RowError as exc:
        _problem(ctx, table, number, exc.column, exc.message)
    except ValidationError as exc:
        if hasattr(exc, "message_dict"):
            for column, messages in exc.message_dict.items():
                col = None if column == "__all__" else column
                _problem(ctx, table, number, col, " ".join(messages))
        else:
            _problem(ctx, table, number, None, " ".join(exc.messages))
    except PermissionDenied as exc:
        _problem(ctx, table, number, None, str(exc) or perms.RECORD_REFUSED)
    else:
        return True
    return False


def _changed(obj, values: dict) -> dict:
    return {k: v for k, v in values.items() if getattr(obj, k) != v}


# companies -----------------------------------------------------------------------------


def _company_parse(row: dict, refs: Refs):
    name = _text(row, "name", required=True, max_length=255)
    country = _country(row)
    lei = _text(row, "lei").upper()
    if lei:
        try:
            validate_lei(lei)
        except ValidationError as exc:
            raise RowError("lei", " ".join(exc.messages)) from exc
    stages = []
    for code in _list(row, "stages"):
        if code.lower().removeprefix("application.") not in refs.stages:
            raise RowError("stages", f"{code!r} is not a stage.")
        stages.append(refs.stages[code.lower().removeprefix("application.")])
    key = ("lei", lei) if lei else ("name", name.lower(), country)
    values = {
        "legal_name": name,
        "country": country,
        "lei": lei,
        "website": _text(row, "website", max_length=200),
        "stages": stages,
        "parent": _text(row, "parent"),
    }
    return key, values


def _company_write(items, ctx: Context, refs: Refs) -> None:
    leis = {key[1] for _, key, _ in items if key[0] == "lei"}
    names = {v["legal_name"] for _, _, v in items}
    existing: dict[Any, Company] = {}
    for c in Company.objects.filter(Q(lei__in=leis) | Q(legal_name__in=names)).prefetch_related(
        "stages"
    ):
        if c.lei:
            existing[("lei", c.lei)] = c
        existing.setdefault(("name", c.legal_name.lower(), c.country.code), c)
    for number, key, values in items:

        def one(key=key, values=values):
            values = dict(values)  # popped below; the batch keeps its own
            stages = values.pop("stages")
            parent_ref = values.pop("parent")
            parent = refs.company(parent_ref, "parent", required=False) if parent_ref else None
            values["parent"] = parent
            company = existing.get(key)
            if company is None and key[0] == "lei":
                # Known by name and country without its LEI yet: the same company.
                company = existing.get(("name", values["legal_name"].lower(), values["country"]))
                if company is not None and company.lei:
                    company = None
            if company is None:
                if not perms.can_add_records(ctx.user) and not ctx.staff:
                    raise PermissionDenied("Only staff and compliance officers may add companies.")
                company = Company(**values)
                company.full_clean()
                company.save()
                company.stages.set(stages)
                ctx.count("companies", "created")
            else:
                changes = _changed(company, {**values, "country": values["country"]})
                changes.pop("country", None) if company.country.code == values["country"] else None
                if not changes.get("website") and "website" in changes and not values["website"]:
                    changes.pop("website")  # an empty cell keeps what is there
                new_stages = {s.pk for s in stages}
                old_stages = {s.pk for s in company.stages.all()}
                if not changes and (not new_stages or new_stages <= old_stages):
                    ctx.count("companies", "matched")
                else:
                    _authorize(ctx, company)
                    for k, v in changes.items():
                        setattr(company, k, v)
                    company.full_clean()
                    company.save()
                    if new_stages:
                        company.stages.add(*stages)
                    ctx.count("companies", "updated")
            existing[key] = company
            refs.remember(company)

        _guard(ctx, TABLES["companies"], number, one)


def _authorize(ctx: Context, record) -> None:
    if ctx.staff:
        return
    perms.authorize_record_change(ctx.user, record)


# Exports read in chunks (prefetches per chunk): 50,000 companies held at once took a
# worker from 121 to 383 MB.
EXPORT_CHUNK = 2000


def _company_export():
    rows = Company.objects.select_related("parent").prefetch_related("stages").order_by("pk")
    for c in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield [
            c.legal_name,
            c.country.code,
            c.lei,
            ";".join(sorted(s.code.split(".", 1)[1] for s in c.stages.all())),
            (c.parent.lei or c.parent.legal_name) if c.parent else "",
            c.website,
        ]


# facilities ----------------------------------------------------------------------------


def _facility_parse(row: dict, refs: Refs):
    cid = _text(row, "rmi_id").upper()
    if cid:
        try:
            validate_cid(cid)
        except ValidationError as exc:
            raise RowError("rmi_id", " ".join(exc.messages)) from exc
    values = {
        "company": _text(row, "company", required=True),
        "name": _text(row, "name", required=True, max_length=200),
        "kind": _choice(row, "kind", Facility.Kind.choices),
        "country": _country(row),
        "region": _text(row, "region", max_length=120),
        "stage": refs.stage(row),
        "minerals": refs.minerals_of(row),
        "feedstock": _choice(
            row, "feedstock", Feedstock.choices, required=False, default=Feedstock.VIRGIN
        ),
        "rmi_cid": cid,
    }
    key = ("cid", cid) if cid else ("name", values["company"].lower(), values["name"].lower())
    return key, values


def _facility_write(items, ctx: Context, refs: Refs) -> None:
    cids = {key[1] for _, key, _ in items if key[0] == "cid"}
    names = {v["name"] for _, _, v in items}
    existing: dict[Any, Facility] = {}
    for f in (
        Facility.objects.filter(Q(rmi_cid__in=cids) | Q(name__in=names))
        .select_related("company")
        .prefetch_related("minerals")
    ):
        if f.rmi_cid:
            existing[("cid", f.rmi_cid)] = f
        existing[("name", f.company_id, f.name.lower(), f.country.code)] = f
    for number, key, values in items:

        def one(key=key, values=values):
            values = dict(values)  # popped below; the batch keeps its own
            company = refs.company(values.pop("company"), "company")
            minerals = values.pop("minerals")
            values["company"] = company
            facility = existing.get(key) or existing.get(
                ("name", company.pk, values["name"].lower(), values["country"])
            )
            if facility is None:
                if not (ctx.staff or perms.can_add_records(ctx.user)):
                    raise PermissionDenied("Only staff and compliance officers may add facilities.")
                facility = Facility(**values)
                facility.full_clean()
                facility.save()
                facility.minerals.set(minerals)
                ctx.count("facilities", "created")
            else:
                changes = _changed(facility, values)
                if facility.country.code == values["country"]:
                    changes.pop("country", None)
                new = {m.pk for m in minerals}
                if not changes and new == {m.pk for m in facility.minerals.all()}:
                    ctx.count("facilities", "matched")
                else:
                    _authorize(ctx, facility)
                    for k, v in changes.items():
                        setattr(facility, k, v)
                    _authorize(ctx, facility)  # as it would be after
                    facility.full_clean()
                    facility.save()
                    facility.minerals.set(minerals)
                    ctx.count("facilities", "updated")
            existing[key] = facility

        _guard(ctx, TABLES["facilities"], number, one)


def _facility_export():
    for f in (
        Facility.objects.select_related("company", "stage")
        .prefetch_related("minerals")
        .order_by("pk")
        .iterator(chunk_size=EXPORT_CHUNK)
    ):
        yield [
            f.company.lei or f.company.legal_name,
            f.name,
            f.kind,
            f.country.code,
            f.region,
            f.stage.code.split(".", 1)[1],
            ";".join(sorted(m.code for m in f.minerals.all())),
            f.feedstock,
            f.rmi_cid,
        ]


# mines (with owners and equity shares) --------------------------------------------------

OWNER_RE = re.compile(r"^(?P<who>.+?)\s*\(\s*(?P<share>[\d.]+)\s*%?\s*\)$")


def _owners(row: dict) -> list[tuple[str, Decimal]]:
    owners = []
    for part in _text(row, "owners").split(";"):
        part = part.strip()
        if not part:
            continue
        match = OWNER_RE.match(part)
        if not match:
            raise RowError(
                "owners", f"{part!r}: write each owner as 'Company (share %)', separated by ';'."
            )
        try:
            owners.append((match["who"].strip(), Decimal(match["share"])))
        except InvalidOperation as exc:
            raise RowError("owners", f"{match['share']!r} is not a share.") from exc
    return owners


def _mine_parse(row: dict, refs: Refs):
    cahra = _bool(row, "cahra")
    values = {
        "name": _text(row, "name", required=True, max_length=200),
        "country": _country(row),
        "region": _text(row, "region", max_length=120),
        "method": _choice(row, "method", MinedSource.Method.choices),
        "minerals": refs.minerals_of(row),
        "operator": _text(row, "operator"),
        "owners": _owners(row),
        "cahra": cahra,
        "cahra_basis": _text(row, "cahra_basis", max_length=300),
    }
    if not values["minerals"]:
        raise RowError("minerals", "minerals is required (e.g. cobalt;copper).")
    validate = [(who.lower(), share) for who, share in values["owners"]]
    try:
        validate_owner_shares(validate)
    except ValidationError as exc:
        raise RowError("owners", " ".join(exc.messages)) from exc
    return ("mine", values["name"].lower(), values["country"]), values


def _mine_refs(values: dict) -> set[str]:
    return {values["operator"], *(who for who, _ in values["owners"])}


def _mine_write(items, ctx: Context, refs: Refs) -> None:
    names = {v["name"] for _, _, v in items}
    existing = {
        ("mine", m.name.lower(), m.country.code): m
        for m in MinedSource.objects.filter(name__in=names).prefetch_related(
            "minerals", "ownerships"
        )
    }
    for number, key, values in items:

        def one(key=key, values=values):
            values = dict(values)  # popped below; the batch keeps its own
            minerals, owners = values.pop("minerals"), values.pop("owners")
            values["operator"] = refs.company(values["operator"], "operator", required=False)
            owners = [(refs.company(who, "owners"), share) for who, share in owners]
            mine = existing.get(key)
            created = mine is None
            if mine is None:
                if not (ctx.staff or perms.can_add_records(ctx.user)):
                    raise PermissionDenied("Only staff and compliance officers may add mines.")
                mine = MinedSource(**values)
                mine.full_clean()
                mine.save()
                mine.minerals.set(minerals)
                ctx.count("mines", "created")
            else:
                changes = _changed(mine, values)
                if mine.country.code == values["country"]:
                    changes.pop("country", None)
                old_owners = {(o.company_id, o.share_pct) for o in mine.ownerships.all()}
                new_owners = {(c.pk, s) for c, s in owners}
                same = (
                    not changes
                    and {m.pk for m in minerals} == {m.pk for m in mine.minerals.all()}
                    and (not owners or old_owners == new_owners)
                )
                if same:
                    ctx.count("mines", "matched")
                    existing[key] = mine
                    return
                _authorize(ctx, mine)
                for k, v in changes.items():
                    setattr(mine, k, v)
                mine.full_clean()
                mine.save()
                mine.minerals.set(minerals)
                ctx.count("mines", "updated")
            if owners:
                mine_set_owners(mine=mine, owners=owners)
            if not created:
                _authorize(ctx, mine)  # as it is after: nobody hands a mine away
            existing[key] = mine

        _guard(ctx, TABLES["mines"], number, one)


def _mine_export():
    for m in (
        MinedSource.objects.select_related("operator")
        .prefetch_related("minerals", "ownerships__company")
        .order_by("pk")
        .iterator(chunk_size=EXPORT_CHUNK)
    ):
        yield [
            m.name,
            m.country.code,
            m.region,
            m.method,
            ";".join(sorted(x.code for x in m.minerals.all())),
            (m.operator.lei or m.operator.legal_name) if m.operator else "",
            "; ".join(
                f"{o.company.lei or o.company.legal_name} ({_shown(o.share_pct)})"
                for o in m.ownerships.all()
            ),
            "yes" if m.cahra else "no",
            m.cahra_basis,
        ]


# attestations ---------------------------------------------------------------------------


def _attestation_parse(row: dict, refs: Refs):
    standard = _text(row, "standard", required=True).lower()
    if standard not in refs.standards:
        raise RowError("standard", f"{standard!r} is not a standard's code (e.g. irma, rmi-rmap).")
    values = {
        "company": _text(row, "company", required=True),
        "standard": refs.standards[standard],
        "type": _choice(row, "type", Attestation.Type.choices),
        "valid_from": _date(row, "valid_from", required=True),
        "valid_until": _date(row, "valid_until"),
        "minerals": refs.minerals_of(row),
        "verifier_name": _text(row, "verifier_name", max_length=200),
        "reference": _text(row, "reference", max_length=200),
        "visibility": _choice(
            row, "visibility", Attestation.Visibility.choices, required=False, default="private"
        ),
    }
    key = (
        values["company"].lower(),
        standard,
        values["type"],
        values["valid_from"],
        values["reference"],
    )
    return key, values


def _attestation_write(items, ctx: Context, refs: Refs) -> None:
    membership = perms.membership_of(ctx.user)
    owner_id = membership.organisation_id if membership else None
    for number, _key, values in items:

        def one(values=values):
            values = dict(values)
            company = refs.company(values.pop("company"), "company")
            minerals = values.pop("minerals")
            if ctx.user is None or owner_id is None:
                raise RowError(
                    None,
                    "Attestations are logged by an organisation: import them as one of its "
                    "compliance officers.",
                )
            found = Attestation.objects.filter(
                owner_id=owner_id,
                company=company,
                standard=values["standard"],
                type=values["type"],
                valid_from=values["valid_from"],
                reference=values["reference"],
            ).first()
            if found is not None:
                same = found.valid_until == values["valid_until"] and (
                    found.verifier_name == values["verifier_name"]
                )
                if not same:
                    raise RowError(
                        None,
                        f"Attestation {found.pk} is already logged with other dates or verifier:"
                        " change it on its page (its status history is kept there).",
                    )
                ctx.count("attestations", "matched")
                return
            attestation_create(
                user=ctx.user, owner_id=owner_id, company=company, minerals=minerals, **values
            )
            ctx.count("attestations", "created")

        _guard(ctx, TABLES["attestations"], number, one)


def _attestation_export(ctx_user=None):
    rows = Attestation.objects.select_related("company", "standard").prefetch_related("minerals")
    requester = Requester.for_user(ctx_user) if ctx_user is not None else Requester.anonymous()
    rows = rows.visible_to(requester)
    for a in rows.order_by("pk").iterator(chunk_size=EXPORT_CHUNK):
        yield [
            a.company.lei or a.company.legal_name,
            a.standard.code,
            a.type,
            a.valid_from.isoformat(),
            a.valid_until.isoformat() if a.valid_until else "",
            ";".join(sorted(m.code for m in a.minerals.all())),
            a.verifier_name,
            a.reference,
            a.visibility,
        ]


# supply relationships -------------------------------------------------------------------


def _tonnes(row: dict, amount_col: str, unit_col: str) -> tuple[Decimal | None, str]:
    amount = _decimal(row, amount_col)
    unit = _text(row, unit_col) or "t"
    first, _, rest = unit.partition(" ")
    factor = UNITS.get(first) or UNITS.get(first.lower() if first.lower() != "mt" else "")
    if first.lower() in ("tonnes", "tonne", "tons"):
        factor = Decimal(1)
    if factor is None:
        raise RowError(unit_col, f"{unit!r}: the unit must be t, kt or Mt (e.g. 'kt Li content').")
    base = "t" + (f" {rest.strip()}" if rest.strip() else "")
    return (amount * factor if amount is not None else None), base


def _relationship_parse(row: dict, refs: Refs):
    volume, _ = _tonnes(row, "volume", "unit")
    share = _decimal(row, "share_pct")
    if volume is not None and volume < 0:
        raise RowError("volume", "The volume cannot be negative.")
    if share is not None and not (0 <= share <= 100):
        raise RowError("share_pct", "The share is a percentage between 0 and 100.")
    if volume is None and share is None:
        raise RowError("volume", "Give the volume or the share of the buyer's supply.")
    if volume is not None and volume >= Decimal("1e11"):
        raise RowError("volume", "The volume is too large.")
    values = {
        "supplier": _text(row, "supplier", required=True),
        "buyer": _text(row, "buyer", required=True),
        "mineral": refs.mineral(row),
        "stage": refs.stage(row),
        "material": _choice(row, "material", Material.choices),
        "period_start": _date(row, "period_start"),
        "period_end": _date(row, "period_end"),
        "volume_t": volume.quantize(Decimal("0.001")) if volume is not None else None,
        "share_pct": share.quantize(Decimal("0.01")) if share is not None else None,
        "note": _text(row, "note", max_length=300),
    }
    key = (
        values["supplier"].lower(),
        values["buyer"].lower(),
        values["mineral"].code,
        values["material"],
        values["stage"].code,
        values["period_start"],
        values["period_end"],
    )
    return key, values


def _relationship_write(items, ctx: Context, refs: Refs) -> None:
    resolved = []
    for number, _, values in items:
        try:
            supplier = refs.company(values["supplier"], "supplier")
            buyer = refs.company(values["buyer"], "buyer")
        except RowError as exc:
            _problem(ctx, TABLES["relationships"], number, exc.column, exc.message)
            continue
        resolved.append((number, {**values, "supplier": supplier, "buyer": buyer}))
    pairs = {(v["supplier"].pk, v["buyer"].pk) for _, v in resolved}
    existing: dict[tuple, SupplyRelationship] = {}
    if pairs:
        for r in SupplyRelationship.objects.filter(
            supplier_id__in={s for s, _ in pairs}, buyer_id__in={b for _, b in pairs}
        ):
            existing[_relationship_key(r.supplier_id, r.buyer_id, r.__dict__)] = r
    checked: list[tuple[int, tuple, dict, SupplyRelationship | None, dict]] = []
    for number, values in resolved:

        def plan(number=number, values=values):
            key = _relationship_key(values["supplier"].pk, values["buyer"].pk, values)
            found = existing.get(key)
            if found is not None:
                changes = _changed(found, {k: values[k] for k in ("volume_t", "share_pct", "note")})
                if not changes:
                    ctx.count("relationships", "matched")
                    return
                _authorize(ctx, found)
            elif not (ctx.staff or perms.can_add_records(ctx.user)):
                raise PermissionDenied("Only staff and compliance officers may add relationships.")
            else:
                changes = {}
            checked.append((number, key, values, found, changes))

        _guard(ctx, TABLES["relationships"], number, plan)
    # The registry's rule for the whole batch at once (a few queries, not a few per row);
    # rows written earlier in this import are in the open transaction, so count too.
    refused = validate_relationships(
        [values for _, _, values, _, _ in checked],
        [found.pk if found else None for _, _, _, found, _ in checked],
    )
    created: list[SupplyRelationship] = []
    for index, (number, key, values, found, changes) in enumerate(checked):
        if index in refused:
            _guard(ctx, TABLES["relationships"], number, _raiser(refused[index]))
        elif found is not None:
            for k, v in changes.items():
                setattr(found, k, v)
            found.save()
            ctx.count("relationships", "updated")
        else:
            existing[key] = SupplyRelationship(**values)
            created.append(existing[key])
            ctx.count("relationships", "created")
    if created:
        user = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
        bulk_create_with_history(created, SupplyRelationship, batch_size=BATCH, default_user=user)


def _raiser(errors: dict[str, str]) -> Callable[[], None]:
    def refuse():
        raise ValidationError(errors)

    return refuse


def _relationship_key(supplier_id: int, buyer_id: int, v: dict) -> tuple:
    mineral = v.get("mineral_id") or v["mineral"].pk
    stage = v.get("stage_id") or v["stage"].pk
    return (
        supplier_id,
        buyer_id,
        mineral,
        v["material"],
        stage,
        v["period_start"],
        v["period_end"],
    )


def _relationship_export():
    rows = SupplyRelationship.objects.select_related(
        "supplier", "buyer", "stage", "mineral"
    ).order_by("pk")
    for r in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield [
            r.supplier.lei or r.supplier.legal_name,
            r.buyer.lei or r.buyer.legal_name,
            r.mineral_id and r.mineral.code,
            r.stage.code.split(".", 1)[1],
            r.material,
            r.period_start.isoformat() if r.period_start else "",
            r.period_end.isoformat() if r.period_end else "",
            _shown(r.volume_t),
            "t" if r.volume_t is not None else "",
            _shown(r.share_pct),
            r.note,
        ]


# production statistics ------------------------------------------------------------------

PRODUCTION_STAGES = {"mining": "mining", "mine": "mining", "refining": "refining"}
PRODUCTION_STAGES["refinery"] = "refining"
PRODUCTION_STAGES["recycling"] = "recycling"  # its own stage: never counted as mining
WORLD_LABEL, OTHER_LABEL = "World total", "Other countries"


def _production_parse(row: dict, refs: Refs):
    mineral = refs.mineral(row)
    stage_raw = _text(row, "stage", required=True).lower().removeprefix("application.")
    if stage_raw not in PRODUCTION_STAGES:
        raise RowError(
            "stage", f"{stage_raw!r}: production is by stage mining, refining or recycling."
        )
    stage = PRODUCTION_STAGES[stage_raw]
    product = _text(row, "product") or mineral.code
    if len(product) > 60:
        raise RowError("product", "product is longer than 60 characters.")
    year = _decimal(row, "year", required=True)
    if year != year.to_integral_value() or not 1800 <= year <= 2200:
        raise RowError("year", f"{row.get('year')!r} is not a year.")
    raw_country = _text(row, "country", required=True)
    company = _text(row, "company")
    amount, unit = _tonnes(row, "amount", "unit")
    if amount is not None and amount < 0:
        raise RowError("amount", "The amount cannot be negative.")
    if amount is not None and amount >= Decimal("1e13"):
        raise RowError("amount", "The amount is too large.")
    if raw_country.upper() in ("WORLD", "OTHER") and company:
        raise RowError(
            "company",
            "A world total or 'other' figure is not a company's: leave company empty.",
        )
    if raw_country.upper() == "WORLD":
        kind, country, label = ProductionStatistic.Kind.WORLD, "", WORLD_LABEL
    elif raw_country.upper() == "OTHER":
        kind, country, label = ProductionStatistic.Kind.OTHER, "", OTHER_LABEL
    else:
        country = _country(row)  # a company row: the country of its site
        label = _country_name(country)
        kind = ProductionStatistic.Kind.COUNTRY if amount is not None else "withheld"
    if amount is None and (kind != "withheld" or company):
        raise RowError("amount", "amount is required (leave it empty only for a withheld figure).")
    values = {
        "mineral": mineral,
        "product": product,
        "stage": stage,
        "kind": kind,
        "country": country,
        "company": company,  # a reference (LEI or legal name), resolved when written
        "label": label[:80],
        "year": int(year),
        "quantity": amount.quantize(Decimal("0.001")) if amount is not None else None,
        "unit": unit[:60],
        "source": _text(row, "source", required=True, max_length=400),
    }
    place = country or kind
    return (product.lower(), stage, int(year), place, company.lower()), values


def _production_key(p: ProductionStatistic) -> tuple:
    place = p.country.code if p.kind in ("country", "withheld") else p.kind
    return (p.product.lower(), p.stage, p.year, place, p.company_id)


FIELDS_OF_A_FIGURE = ("mineral_id", "kind", "country", "quantity", "unit", "source")


def _production_write(items, ctx: Context, refs: Refs) -> None:
    if not ctx.staff:
        for number, _, _ in items:
            _problem(
                ctx,
                TABLES["production"],
                number,
                None,
                "Production statistics are reference data: only staff may import them.",
            )
        return
    resolved = []  # (number, key with the company's id, values with the company)
    for number, key, values in items:
        values = dict(values)
        ref = values.pop("company")
        try:
            company = refs.company(ref, "company") if ref else None
        except RowError as exc:
            _problem(ctx, TABLES["production"], number, exc.column, exc.message)
            continue
        values["company"] = company
        if company is not None:
            values["label"] = company.legal_name[:80]
        resolved.append((number, (*key[:4], company.pk if company else None), values))
    groups: dict[tuple, set] = {}
    for _, key, values in resolved:
        groups.setdefault((values["product"], values["stage"], values["year"]), set()).add(
            (key[3], key[4])
        )
    existing: dict[tuple, ProductionStatistic] = {}
    for (product, stage, year), places in groups.items():
        codes = [p for p, c in places if len(p) == 2 and c is None]
        company_ids = [c for _, c in places if c is not None]
        found = ProductionStatistic.objects.filter(product=product, stage=stage, year=year).filter(
            Q(country__in=codes, company__isnull=True)
            | Q(kind__in=["world", "other"], company__isnull=True)
            | Q(company_id__in=company_ids)
        )
        for p in found:
            existing[_production_key(p)] = p
    create, update = [], []
    for number, key, values in resolved:
        found = existing.get(key)
        if found is None:
            new = ProductionStatistic(**values)
            existing[key] = new
            create.append(new)
            ctx.count("production", "created")
            continue
        if found.pk is None:
            _problem(ctx, TABLES["production"], number, None, "The same figure is given twice.")
            continue
        target = {**values, "mineral_id": values["mineral"].pk}
        target.pop("mineral")
        target.pop("company")  # part of the key
        target.pop("label")  # the label of a loaded figure is kept ("World total (rounded)")
        current = {k: getattr(found, k) for k in target}
        current["country"] = found.country.code
        if all(current[k] == target[k] for k in target):
            ctx.count("production", "matched")
            continue
        for k, v in target.items():
            setattr(found, k, v)
        update.append(found)
        ctx.count("production", "updated")
    ProductionStatistic.objects.bulk_create(create, batch_size=BATCH)
    if update:
        ProductionStatistic.objects.bulk_update(
            update, ["mineral", "kind", "country", "quantity", "unit", "source"], batch_size=BATCH
        )


def _production_export():
    rows = ProductionStatistic.objects.select_related("mineral", "company").order_by(
        "mineral__code", "product", "stage", "year", "kind", "country", "company_id", "pk"
    )
    for p in rows.iterator(chunk_size=EXPORT_CHUNK):
        place = {"world": "WORLD", "other": "OTHER"}.get(p.kind, p.country.code)
        yield [
            p.mineral.code,
            p.stage,
            p.product,
            p.year,
            place,
            (p.company.lei or p.company.legal_name) if p.company else "",
            _shown(p.quantity),
            p.unit,
            p.source,
        ]


TABLES: dict[str, Table] = {
    t.code: t
    for t in (
        Table(
            "companies",
            "Companies",
            ["name", "country", "lei", "stages", "parent", "website"],
            {
                "name": "Example Cobalt Refining Ltd",
                "country": "FI",
                "lei": "",
                "stages": "refining",
                "parent": "",
                "website": "https://example.com",
            },
            _company_parse,
            _company_write,
            _company_export,
            company_columns=("parent",),
            extra={"required": ["name", "country"]},
        ),
        Table(
            "facilities",
            "Facilities",
            [
                "company",
                "name",
                "kind",
                "country",
                "region",
                "stage",
                "minerals",
                "feedstock",
                "rmi_id",
            ],
            {
                "company": "Example Cobalt Refining Ltd",
                "name": "Kokkola refinery",
                "kind": "smelter_refiner",
                "country": "FI",
                "region": "Central Ostrobothnia",
                "stage": "refining",
                "minerals": "cobalt;nickel",
                "feedstock": "virgin",
                "rmi_id": "CID000001",
            },
            _facility_parse,
            _facility_write,
            _facility_export,
            company_columns=("company",),
            extra={"required": ["company", "name", "kind", "country", "stage"]},
        ),
        Table(
            "mines",
            "Mines, owners and equity shares",
            [
                "name",
                "country",
                "region",
                "method",
                "minerals",
                "operator",
                "owners",
                "cahra",
                "cahra_basis",
            ],
            {
                "name": "Example mine",
                "country": "CD",
                "region": "Lualaba",
                "method": "industrial",
                "minerals": "cobalt;copper",
                "operator": "Example Mining SA",
                "owners": "Example Mining SA (80); Gecamines (20)",
                "cahra": "yes",
                "cahra_basis": "Listed as CAHRA by the EU indicative list",
            },
            _mine_parse,
            _mine_write,
            _mine_export,
            extra={"required": ["name", "country", "method", "minerals"]},
        ),
        Table(
            "attestations",
            "Attestations",
            [
                "company",
                "standard",
                "type",
                "valid_from",
                "valid_until",
                "minerals",
                "verifier_name",
                "reference",
                "visibility",
            ],
            {
                "company": "Example Cobalt Refining Ltd",
                "standard": "rmi-rmap",
                "type": "third_party_audit",
                "valid_from": "2025-01-01",
                "valid_until": "2027-12-31",
                "minerals": "cobalt",
                "verifier_name": "Example Audit Ltd",
                "reference": "RMAP-2025-001",
                "visibility": "private",
            },
            _attestation_parse,
            _attestation_write,
            _attestation_export,
            company_columns=("company",),
            extra={"required": ["company", "standard", "type", "valid_from"]},
        ),
        Table(
            "relationships",
            "Supply relationships",
            [
                "supplier",
                "buyer",
                "mineral",
                "stage",
                "material",
                "period_start",
                "period_end",
                "volume",
                "unit",
                "share_pct",
                "note",
            ],
            {
                "supplier": "Example Cobalt Refining Ltd",
                "buyer": "Example Cathode Co",
                "mineral": "cobalt",
                "stage": "refining",
                "material": "refined_chemical",
                "period_start": "2025-01-01",
                "period_end": "2025-12-31",
                "volume": "1.2",
                "unit": "kt",
                "share_pct": "",
                "note": "",
            },
            _relationship_parse,
            _relationship_write,
            _relationship_export,
            company_columns=("supplier", "buyer"),
            extra={"required": ["supplier", "buyer", "mineral", "stage", "material"]},
        ),
        Table(
            "production",
            "Production statistics",
            [
                "mineral",
                "stage",
                "product",
                "year",
                "country",
                "company",
                "amount",
                "unit",
                "source",
            ],
            {
                "mineral": "cobalt",
                "stage": "mining",
                "product": "cobalt",
                "year": "2024",
                "country": "CD",
                "company": "",
                "amount": "220",
                "unit": "kt",
                "source": "USGS Mineral Commodity Summaries 2025",
            },
            _production_parse,
            _production_write,
            _production_export,
            company_columns=("company",),
            extra={"required": ["mineral", "stage", "year", "country", "amount", "unit", "source"]},
        ),
    )
}


# --- Running a table import ---------------------------------------------------------------


def _refs_of(table: Table, values: dict) -> set[str]:
    if table.code == "mines":
        return _mine_refs(values)
    return {values[c] for c in table.company_columns if values.get(c)}


def run_table(table: Table, ctx: Context) -> None:
    """Parse, resolve and write every row of the file, in batches."""
    rows = iter_rows(ctx.path, ctx.extension)
    first = next(rows, None)
    if first is None:
        raise ImportRefused("The file is empty: it needs a header row and data rows.")
    header_row, header_values = first
    header = [str(v).strip().lower() if v is not None else "" for v in header_values]
    missing = [c for c in table.required if c not in header]
    if missing:
        raise ImportRefused(
            f"The {table.label.lower()} file lacks the column(s) {', '.join(missing)}; "
            f"its header is: {', '.join(table.columns)} (download the template)."
        )
    unknown = [h for h in header if h and h not in table.columns]
    if unknown:
        ctx.problem(
            f"Column(s) {', '.join(unknown)} are not read.",
            row=header_row,
            sheet=table.code,
            severity="warning",
        )
    refs = Refs()
    seen: set[int] = set()
    batch: list = []
    done = 0
    ctx.tables.setdefault(
        table.code, {"rows": 0, "created": 0, "updated": 0, "matched": 0, "unmatched": 0}
    )

    def flush():
        wanted: set[str] = set()
        for _, _, values in batch:
            wanted |= _refs_of(table, values)
        refs.load_companies(wanted)
        table.write(batch, ctx, refs)
        batch.clear()

    for number, values in rows:
        row = dict(zip(header, values, strict=False))
        done += 1
        ctx.count(table.code, "rows")
        formulas = [c for c, v in row.items() if isinstance(v, Formula) and c in table.columns]
        if formulas:
            for column in formulas:
                ctx.problem(
                    f"{column} holds a formula ({row[column][:40]}); put the value itself.",
                    row=number,
                    column=column,
                    sheet=table.code,
                )
            continue
        try:
            key, parsed = table.parse(row, refs)
        except RowError as exc:
            ctx.problem(exc.message, row=number, column=exc.column, sheet=table.code)
            continue
        digest = hash(key)
        if digest in seen:
            ctx.problem(
                "The same record appears earlier in the file.", row=number, sheet=table.code
            )
            continue
        seen.add(digest)
        batch.append((number, key, parsed))
        if len(batch) >= BATCH:
            flush()
        if done % PROGRESS_EVERY == 0:
            ctx.progress(done)
    if batch:
        flush()
    ctx.progress(done)


def _detector(table: Table) -> Callable[[Head], bool]:
    required = set(table.required)
    distinctive = set(table.columns)

    def detect(head: Head) -> bool:
        columns = set(head.header)
        return required <= columns and columns <= distinctive | {""}

    return detect


def _kind_of(table: Table) -> Kind:
    def run(ctx: Context) -> None:
        run_table(table, ctx)

    return Kind(
        table.code,
        table.label,
        detect=_detector(table),
        check=run,
        commit=run,
        extra={"table": table},
    )


for _table in TABLES.values():
    register(_kind_of(_table))
