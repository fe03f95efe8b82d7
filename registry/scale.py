"""A registry of the real world's size, built in bulk from a seed (issue 16).

`build_registry(seed, scale)` fills a migrated database holding the reference data with
companies, facilities, mines, owners, organisations and members, attestations with their
status histories, and an acyclic supply graph. At scale 1.0: the sizes in `SIZES`.

Every model rule holds (the tests check them): status histories follow
`services.TRANSITIONS` with dates in order and never after `ANCHOR`; mine owners' shares
add up to at most 100%; relationships run only from an earlier stage to a later one, so
the graph has no cycle; a facility works at its company's stage and carries its
company's minerals, and relationships name only such facilities for their mineral.

Randomness comes from one `random.Random(seed)` and never from ids or the clock, so the
same seed gives the same data in any database. History tables (simple_history) are not
filled: bulk data has no author and no past.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from taxonomy.models import Cell, Mineral, Standard

from .models import (
    Attestation,
    Company,
    Facility,
    Membership,
    MinedSource,
    MineOwnership,
    Organisation,
    SourceLink,
    StatusChange,
    SupplyRelationship,
)
from .services import TRANSITIONS

SIZES = {
    "companies": 50_000,
    "facilities": 20_000,
    "mines": 10_000,
    "ownerships": 16_480,
    "attestations": 200_000,
    "relationships": 300_000,
    "company_organisations": 5_000,
    "auditors": 200,
    "ngos": 80,
    "research": 20,
    "regulators": 4,
}
# Every date is on or before this day (not today: the same seed gives the same data).
ANCHOR = dt.date(2026, 1, 1)
PRIVATE_SHARE = 0.30
SHARED_SHARE = 0.10
BATCH = 5_000
EDGE_BATCH = 50_000  # relationships held in memory before they are written

MINERALS = ["cobalt", "lithium", "nickel", "graphite", "manganese", "copper"]
MINERAL_WEIGHTS = [30, 25, 20, 10, 8, 7]
# Stage -> (rank in the flow, share of companies, facility kind, material it sells).
# Recyclers sit with the mines: they sell black mass downstream and buy nothing here
# (end-of-life batteries are not supply relationships), so no edge can close a loop.
STAGES = {
    "mining": (0, 0.30, "mine", "concentrate"),
    "recycling": (0, 0.06, "recycling", "black_mass"),
    "trading": (1, 0.14, None, "intermediate"),
    "refining": (2, 0.14, "smelter_refiner", "refined_chemical"),
    "cathode": (3, 0.10, "cathode", "cathode_material"),
    "cell": (4, 0.09, "cell", "cell"),
    "battery_assembly": (5, 0.09, "pack", "pack"),
    "vehicle": (6, 0.08, "vehicle", None),
}


def _words(text: str) -> list[str]:
    return text.split()


COUNTRIES = _words(
    "AR AU BE BO BR CA CD CL CN CZ DE ES FI FR GB HU ID IN JP "
    "KR MA MG MX MZ NL NO PE PH PL PT RU SE TR TZ US VN ZA ZM"
)
NAME_WORDS = _words(
    "Atlas Boreal Cobalt Delta Ember Fjord Granite Helix Iron Jade Kestrel Lumen Meridian "
    "Nova Orion Pioneer Quartz Ridge Summit Terra Umber Vertex Wolfram Xenon Yarrow Zenith"
)
SUFFIXES = ["Ltd", "SA", "GmbH", "Corp", "Co", "AG", "Plc", "Inc", "SAS", "Oy", "AB", "KK"]
TYPES = [c for c, _ in Attestation.Type.choices]
VERIFIED_TYPES = {"third_party_audit", "certification"}
Status = Attestation.Status


def sizes_for(scale: float) -> dict[str, int]:
    """The counts at `scale` (at least one of each, so every kind of row exists)."""
    return {key: max(1, round(value * scale)) for key, value in SIZES.items()}


@dataclass
class BuildReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{k}: {v:,}" for k, v in self.counts.items()] + [
            f"{k}: {v:.1f} s" for k, v in self.seconds.items()
        ]


def _lei(rng: random.Random, taken: set[str]) -> str:
    """A valid ISO 17442 LEI: 18 characters and mod 97-10 check digits."""
    while True:
        base = "5493" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=14))
        digits = "".join(str(int(ch, 36)) for ch in base + "00")
        lei = f"{base}{98 - int(digits) % 97:02d}"
        if lei not in taken:
            taken.add(lei)
            return lei


def _split_shares(rng: random.Random, owners: int) -> list[Decimal]:
    """`owners` positive shares with two decimals adding up to 50-100%."""
    total = rng.randint(5_000, 10_000) if owners > 1 or rng.random() < 0.3 else 10_000
    cuts = sorted(rng.sample(range(1, total), owners - 1))
    bounds = [0, *cuts, total]
    return [Decimal(b - a) / 100 for a, b in zip(bounds, bounds[1:], strict=False)]


def _timeline(rng: random.Random, valid_from: dt.date, valid_until: dt.date | None):
    """Statuses with their dates, along the lifecycle, in order, none after ANCHOR."""
    day = min(valid_from - dt.timedelta(days=rng.randint(0, 60)), ANCHOR)
    steps = [(Status.SUBMITTED.value, day)]

    def step(status: str, earliest: dt.date | None = None) -> bool:
        nonlocal day
        nxt = max(day + dt.timedelta(days=rng.randint(3, 90)), earliest or day)
        if nxt > ANCHOR:
            return False
        assert status in TRANSITIONS[steps[-1][0]]
        day = nxt
        steps.append((status, day))
        return True

    if rng.random() < 0.85 and step(Status.UNDER_REVIEW):
        if rng.random() < 0.82:
            if step(Status.VERIFIED):
                r = rng.random()
                if r < 0.05 and step(Status.SUSPENDED):
                    if rng.random() < 0.5:
                        step(Status.VERIFIED)
                    elif rng.random() < 0.4:
                        step(Status.REVOKED)
                elif r < 0.08:
                    step(Status.REVOKED)
                if (
                    steps[-1][0] == Status.VERIFIED
                    and valid_until is not None
                    and valid_until < ANCHOR
                ):
                    step(Status.EXPIRED, earliest=valid_until + dt.timedelta(days=1))
        elif step(Status.REJECTED) and rng.random() < 0.3:
            step(Status.SUBMITTED)
    return steps


def _bulk(model, rows: list, batch: int = BATCH) -> list:
    return model.objects.bulk_create(rows, batch_size=batch)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic
def build_registry(
    seed: int = 1, scale: float = 1.0, progress: Callable[[str], None] | None = None
) -> BuildReport:
    """Fill the registry; the database holds the reference data and no companies."""
    if Company.objects.exists():
        raise ValueError("The registry already holds companies: build into an empty one.")
    say = progress or (lambda _msg: None)
    rng = random.Random(seed)
    n = sizes_for(scale)
    report = BuildReport()
    clock = time.perf_counter()

    def lap(label: str, count: int) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.counts[label] = count
        report.seconds[label] = now - clock
        clock = now
        say(f"{label}: {count:,} in {report.seconds[label]:.1f} s")

    stage_cells = {
        c.code.removeprefix("application."): c.pk
        for c in Cell.objects.filter(dimension__code="application")
    }
    missing = set(STAGES) - set(stage_cells)
    if missing:
        raise ValueError(f"Load the reference data first (no stage cells {sorted(missing)}).")
    minerals = dict(Mineral.objects.filter(code__in=MINERALS).values_list("code", "pk"))
    standards = list(Standard.objects.order_by("code").values_list("pk", flat=True))
    if len(minerals) != len(MINERALS) or not standards:
        raise ValueError("Load the reference data first (minerals and standards).")

    # --- Companies: one stage each, 1-3 minerals (carried by their facilities) ---------
    stage_names = list(STAGES)
    weights = [STAGES[s][1] for s in stage_names]
    company_stage = rng.choices(stage_names, weights=weights, k=n["companies"])
    company_stage[: len(stage_names)] = stage_names  # every stage has a company
    company_minerals = [
        sorted(set(rng.choices(MINERALS, weights=MINERAL_WEIGHTS, k=rng.randint(1, 3))))
        for _ in range(n["companies"])
    ]
    leis: set[str] = set()
    rows = []
    for i, stage in enumerate(company_stage):
        state = rng.random() < 0.04
        rows.append(
            Company(
                legal_name=(
                    f"{rng.choice(NAME_WORDS)} {rng.choice(NAME_WORDS)} "
                    f"{stage.replace('_', ' ').title()} {i + 1:05d} {rng.choice(SUFFIXES)}"
                ),
                country=rng.choice(COUNTRIES),
                lei=_lei(rng, leis) if rng.random() < 0.2 else "",
                state_owner=rng.choice(COUNTRIES) if state else "",
                state_ownership_pct=Decimal(rng.randint(1, 100)) if state else None,
            )
        )
    company_ids = [c.pk for c in _bulk(Company, rows)]
    _bulk(
        Company.stages.through,
        [
            Company.stages.through(company_id=pk, cell_id=stage_cells[stage])
            for pk, stage in zip(company_ids, company_stage, strict=True)
        ],
    )
    # Some subsidiaries of an earlier company of the same stage.
    by_stage: dict[str, list[int]] = {s: [] for s in stage_names}
    parents: dict[int, list[int]] = {}
    for index, stage in enumerate(company_stage):
        if by_stage[stage] and rng.random() < 0.05:
            parents.setdefault(company_ids[rng.choice(by_stage[stage])], []).append(
                company_ids[index]
            )
        by_stage[stage].append(index)
    for parent, children in parents.items():
        for part in _chunks(children, 500):
            Company.objects.filter(pk__in=part).update(parent_id=parent)
    lap("companies", len(company_ids))

    # --- Facilities: at their company's stage, carrying its minerals ---------------------
    with_sites = [i for i, s in enumerate(company_stage) if STAGES[s][2] is not None]
    facility_company = [rng.choice(with_sites) for _ in range(n["facilities"])]
    facility_rows = []
    for k, ci in enumerate(facility_company):
        stage = company_stage[ci]
        kind = STAGES[stage][2]
        if stage == "recycling" and rng.random() < 0.4:
            kind = "black_mass"
        facility_rows.append(
            Facility(
                company_id=company_ids[ci],
                name=f"{rng.choice(NAME_WORDS)} {kind.replace('_', ' ')} site {k + 1:05d}",
                kind=kind,
                country=rng.choice(COUNTRIES),
                stage_id=stage_cells[stage],
                feedstock="recycled" if stage == "recycling" else "virgin",
                rmi_cid=f"CID{k + 1:06d}" if kind == "smelter_refiner" else "",
            )
        )
    facility_ids = [f.pk for f in _bulk(Facility, facility_rows)]
    _bulk(
        Facility.minerals.through,
        [
            Facility.minerals.through(facility_id=fid, mineral_id=minerals[m])
            for fid, ci in zip(facility_ids, facility_company, strict=True)
            for m in company_minerals[ci]
        ],
    )
    sites: dict[int, list[int]] = {}  # company index -> facility ids
    for fid, ci in zip(facility_ids, facility_company, strict=True):
        sites.setdefault(ci, []).append(fid)
    lap("facilities", len(facility_ids))

    # --- Mines, owners (shares at most 100%), operators, links to processors -----------
    miners = by_stage["mining"]
    mine_rows, mine_minerals = [], []
    for k in range(n["mines"]):
        method = rng.choice(["industrial", "industrial", "artisanal", "brine", "hard_rock"])
        if rng.random() < 0.05:
            method = "black_mass"
        cahra = method == "artisanal" or rng.random() < 0.1
        mine_minerals.append(
            sorted(set(rng.choices(MINERALS, weights=MINERAL_WEIGHTS, k=rng.randint(1, 2))))
        )
        mine_rows.append(
            MinedSource(
                name=f"{rng.choice(NAME_WORDS)} mine {k + 1:05d}",
                country=rng.choice(COUNTRIES),
                method=method,
                cahra=cahra,
                cahra_basis="Synthetic: conflict-affected or high-risk area" if cahra else "",
                recycled_origin="post_consumer" if method == "black_mass" else "",
                operator_id=company_ids[rng.choice(miners)] if rng.random() < 0.7 else None,
            )
        )
    mine_ids = [m.pk for m in _bulk(MinedSource, mine_rows)]
    _bulk(
        MinedSource.minerals.through,
        [
            MinedSource.minerals.through(minedsource_id=mid, mineral_id=minerals[m])
            for mid, ms in zip(mine_ids, mine_minerals, strict=True)
            for m in ms
        ],
    )
    owners_per_mine = [1] * len(mine_ids)
    extra = max(0, n["ownerships"] - len(mine_ids))
    cap = min(4, len(miners))
    while extra and any(c < cap for c in owners_per_mine):
        k = rng.randrange(len(mine_ids))
        if owners_per_mine[k] < cap:
            owners_per_mine[k] += 1
            extra -= 1
    ownerships = []
    for mid, count in zip(mine_ids, owners_per_mine, strict=True):
        owners = rng.sample(miners, count)
        for ci, share in zip(owners, _split_shares(rng, count), strict=True):
            ownerships.append(
                MineOwnership(mine_id=mid, company_id=company_ids[ci], share_pct=share)
            )
    _bulk(MineOwnership, ownerships)
    processors: dict[str, list[int]] = {m: [] for m in MINERALS}
    for fid, ci in zip(facility_ids, facility_company, strict=True):
        if company_stage[ci] in ("mining", "refining"):
            for m in company_minerals[ci]:
                processors[m].append(fid)
    links = []
    for mid, ms in zip(mine_ids, mine_minerals, strict=True):
        mineral = rng.choice(ms)
        if processors[mineral]:
            start = dt.date(rng.randint(2019, 2025), 1, 1)
            links.append(
                SourceLink(
                    mine_id=mid,
                    facility_id=rng.choice(processors[mineral]),
                    mineral_id=minerals[mineral],
                    period_start=start,
                    period_end=None if rng.random() < 0.6 else start + dt.timedelta(days=364),
                    volume_t=Decimal(rng.randint(10, 50_000)),
                )
            )
    _bulk(SourceLink, links)
    lap("mines", len(mine_ids))
    report.counts["ownerships"] = len(ownerships)
    report.counts["source_links"] = len(links)

    # --- Organisations and their members ------------------------------------------------
    org_companies = sorted(rng.sample(range(len(company_ids)), n["company_organisations"]))
    org_rows = [
        Organisation(
            name=f"{rows[ci].legal_name} (compliance)",
            kind="company",
            company_id=company_ids[ci],
        )
        for ci in org_companies
    ]
    for kind, count in (
        ("auditor", n["auditors"]),
        ("ngo", n["ngos"]),
        ("research", n["research"]),
        ("regulator", n["regulators"]),
    ):
        org_rows += [
            Organisation(name=f"{rng.choice(NAME_WORDS)} {kind} {k + 1:04d}", kind=kind)
            for k in range(count)
        ]
    orgs = _bulk(Organisation, org_rows)
    company_org = {ci: o.pk for ci, o in zip(org_companies, orgs, strict=False)}
    company_org_ids = [o.pk for o in orgs[: len(org_companies)]]
    auditors = [(o.pk, o.name) for o in orgs if o.kind == "auditor"]
    User = get_user_model()
    users = _bulk(
        User,
        [
            # Unusable passwords: nobody logs in as bench members.
            User(username=f"member-{k + 1:05d}", password="!bench", email="")
            for k in range(len(orgs))
        ],
    )
    _bulk(
        Membership,
        [
            Membership(
                user_id=u.pk,
                organisation_id=o.pk,
                role="reviewer" if o.kind == "auditor" else "compliance_officer",
            )
            for u, o in zip(users, orgs, strict=True)
        ],
    )
    lap("organisations", len(orgs))
    report.counts["members"] = len(users)

    # --- Attestations with their status histories, a chunk at a time ------------------
    made = changes = 0
    remaining = n["attestations"]
    while remaining:
        size = min(remaining, 20_000)
        remaining -= size
        specs = []
        for _ in range(size):
            ci = rng.randrange(len(company_ids))
            valid_from = ANCHOR - dt.timedelta(days=rng.randint(0, 6 * 365))
            valid_until = (
                valid_from + dt.timedelta(days=rng.randint(365, 3 * 365))
                if rng.random() < 0.7
                else None
            )
            steps = _timeline(rng, valid_from, valid_until)
            kind = rng.choice(TYPES)
            auditor = rng.choice(auditors) if kind in VERIFIED_TYPES else None
            r = rng.random()
            visibility = (
                "private"
                if r < PRIVATE_SHARE
                else "shared"
                if r < PRIVATE_SHARE + SHARED_SHARE
                else "public"
            )
            owner = company_org.get(ci) if rng.random() < 0.6 else None
            specs.append(
                (
                    Attestation(
                        company_id=company_ids[ci],
                        standard_id=rng.choice(standards),
                        type=kind,
                        status=steps[-1][0],
                        valid_from=valid_from,
                        valid_until=valid_until,
                        verifier_id=auditor[0] if auditor else None,
                        verifier_name=auditor[1] if auditor else "",
                        reference=f"BENCH-{made + len(specs) + 1:07d}",
                        owner_id=owner or rng.choice(company_org_ids),
                        visibility=visibility,
                        version=len(steps),
                    ),
                    steps,
                    rng.sample(company_minerals[ci], rng.randint(1, len(company_minerals[ci]))),
                    rng.choice(sites[ci]) if ci in sites and rng.random() < 0.3 else None,
                    rng.sample(company_org_ids, rng.randint(1, 2))
                    if visibility == "shared"
                    else [],
                )
            )
        created = _bulk(Attestation, [s[0] for s in specs])
        status_rows, mineral_rows, facility_rows_, shared_rows = [], [], [], []
        for att, (_, steps, ms, site, shared) in zip(created, specs, strict=True):
            previous = ""
            for status, day in steps:
                status_rows.append(
                    StatusChange(
                        attestation_id=att.pk,
                        from_status=previous,
                        to_status=status,
                        effective=day,
                        reason="bench data",
                    )
                )
                previous = status
            mineral_rows += [
                Attestation.minerals.through(attestation_id=att.pk, mineral_id=minerals[m])
                for m in ms
            ]
            if site:
                facility_rows_.append(
                    Attestation.facilities.through(attestation_id=att.pk, facility_id=site)
                )
            shared_rows += [
                Attestation.shared_with.through(attestation_id=att.pk, organisation_id=o)
                for o in shared
            ]
        _bulk(StatusChange, status_rows)
        _bulk(Attestation.minerals.through, mineral_rows)
        _bulk(Attestation.facilities.through, facility_rows_)
        _bulk(Attestation.shared_with.through, shared_rows)
        made += len(created)
        changes += len(status_rows)
        say(f"  attestations {made:,}")
    lap("attestations", made)
    report.counts["status_changes"] = changes

    # --- Supply relationships: earlier stage -> later stage, per mineral ---------------
    pools: dict[tuple[int, str], list[int]] = {}  # (rank, mineral) -> company indexes
    for ci, stage in enumerate(company_stage):
        for m in company_minerals[ci]:
            pools.setdefault((STAGES[stage][0], m), []).append(ci)
    top_rank = max(rank for rank, *_ in STAGES.values())
    seen: set[tuple[int, int, str]] = set()
    edges = []
    attempts = 0
    inserted = 0
    while inserted + len(edges) < n["relationships"] and attempts < n["relationships"] * 20:
        attempts += 1
        mineral = rng.choices(MINERALS, weights=MINERAL_WEIGHTS)[0]
        rank = rng.randint(0, top_rank - 1)
        later = rank + 1 if rng.random() < 0.7 else rng.randint(rank + 1, top_rank)
        suppliers, buyers = pools.get((rank, mineral)), pools.get((later, mineral))
        if not suppliers or not buyers:
            continue
        si, bi = rng.choice(suppliers), rng.choice(buyers)
        if (si, bi, mineral) in seen:
            continue
        seen.add((si, bi, mineral))
        stage = company_stage[si]
        start = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), 1)
        edges.append(
            SupplyRelationship(
                supplier_id=company_ids[si],
                buyer_id=company_ids[bi],
                supplier_facility_id=(
                    rng.choice(sites[si]) if si in sites and rng.random() < 0.5 else None
                ),
                buyer_facility_id=(
                    rng.choice(sites[bi]) if bi in sites and rng.random() < 0.5 else None
                ),
                material=STAGES[stage][3],
                mineral_id=minerals[mineral],
                stage_id=stage_cells[stage],
                period_start=start,
                period_end=None if rng.random() < 0.7 else start + dt.timedelta(days=729),
                volume_t=Decimal(rng.randint(1, 5_000_000)) / 1000,
            )
        )
        if len(edges) >= EDGE_BATCH:  # in batches, not 300,000 objects at once
            _bulk(SupplyRelationship, edges)
            inserted += len(edges)
            edges = []
    _bulk(SupplyRelationship, edges)
    lap("relationships", inserted + len(edges))
    return report
