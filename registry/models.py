"""Companies, their sites, mines, organisations and the attestations they log."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from taxonomy.models import Cell, Mineral, Standard

from .querysets import AttestationQuerySet

STAGE_CELLS = Q(dimension__code="application")


class Organisation(models.Model):
    """Who logs and reads data: a company's compliance team, an NGO, an auditor..."""

    class Kind(models.TextChoices):
        COMPANY = "company", "Company"
        NGO = "ngo", "NGO / civil society"
        AUDITOR = "auditor", "Auditor / verifier"
        REGULATOR = "regulator", "Regulator / authority"
        RESEARCH = "research", "Research"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    company = models.OneToOneField(
        "Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="organisation"
    )

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
        REVIEWER = "reviewer", "Reviewer"
        VIEWER = "viewer", "Viewer"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.VIEWER)

    # Who belonged where, when: access to private attestations follows memberships.
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


LEI_RE = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")
CID_RE = re.compile(r"^CID\d{6}$")


def validate_lei(value: str) -> None:
    """ISO 17442: 20 characters, ISO 7064 mod 97-10 check digits."""
    if not LEI_RE.match(value):
        raise ValidationError(f"{value!r} is not an LEI (20 characters, A-Z and 0-9)")
    digits = "".join(str(int(ch, 36)) for ch in value)
    if int(digits) % 97 != 1:
        raise ValidationError(f"{value!r} fails the LEI check digits")


def validate_cid(value: str) -> None:
    if not CID_RE.match(value):
        raise ValidationError(f"{value!r} is not an RMI smelter/refiner ID (CID + 6 digits)")


class Company(models.Model):
    legal_name = models.CharField(max_length=255)
    aliases = models.JSONField(default=list, blank=True)
    country = CountryField()
    lei = models.CharField(
        "LEI", max_length=20, blank=True, validators=[validate_lei], db_index=True
    )
    stages = models.ManyToManyField(
        Cell,
        blank=True,
        limit_choices_to=STAGE_CELLS,
        related_name="companies",
        help_text="Supply-chain stages the company works in",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subsidiaries"
    )
    state_owner = CountryField(
        blank=True, help_text="State that owns or controls the company, if any"
    )
    state_ownership_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    website = models.URLField(blank=True)
    notes = models.TextField(blank=True)

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_name"]
        verbose_name_plural = "companies"
        # Keyset pages walk (legal_name, id); a country filter reads its own index.
        indexes = [
            models.Index(fields=["legal_name", "id"], name="company_name_idx"),
            models.Index(fields=["country", "legal_name", "id"], name="company_country_name_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["lei"], condition=~Q(lei=""), name="uniq_company_lei"),
            models.CheckConstraint(
                condition=Q(state_ownership_pct__isnull=True)
                | Q(state_ownership_pct__gte=0, state_ownership_pct__lte=100),
                name="company_state_share_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class CompanyIdentifier(models.Model):
    """Other identifiers: RMI smelter/refiner IDs, national registry numbers."""

    class Scheme(models.TextChoices):
        RMI_CID = "rmi_cid", "RMI smelter/refiner ID"
        NATIONAL = "national", "National company registry"
        TAX = "tax", "Tax identifier"
        OTHER = "other", "Other"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(max_length=20, choices=Scheme.choices)
    issuer = models.CharField(max_length=60, blank=True, help_text="e.g. the national registry")
    value = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "issuer", "value"], name="uniq_company_identifier"
            )
        ]
        # ?identifier= looks a value up whatever its scheme.
        indexes = [models.Index(fields=["value"], name="company_identifier_value_idx")]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"

    def clean(self) -> None:
        if self.scheme == self.Scheme.RMI_CID:
            validate_cid(self.value)


class Feedstock(models.TextChoices):
    VIRGIN = "virgin", "Virgin (mined) feedstock"
    RECYCLED = "recycled", "Recycled feedstock"
    BOTH = "both", "Both (dual feedstock)"


class Facility(models.Model):
    class Kind(models.TextChoices):
        MINE = "mine", "Mine"
        SMELTER_REFINER = "smelter_refiner", "Smelter / refiner"
        CATHODE = "cathode", "Cathode / precursor plant"
        CELL = "cell", "Cell plant"
        PACK = "pack", "Pack / battery assembly plant"
        VEHICLE = "vehicle", "Vehicle plant"
        RECYCLING = "recycling", "Recycling plant"
        BLACK_MASS = "black_mass", "Black-mass plant"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="facilities")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    country = CountryField()
    region = models.CharField(max_length=120, blank=True)
    stage = models.ForeignKey(
        Cell, on_delete=models.PROTECT, limit_choices_to=STAGE_CELLS, related_name="facilities"
    )
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="facilities")
    feedstock = models.CharField(max_length=10, choices=Feedstock.choices, default=Feedstock.VIRGIN)
    rmi_cid = models.CharField(
        "RMI facility ID", max_length=9, blank=True, validators=[validate_cid]
    )

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["company__legal_name", "name"]
        verbose_name_plural = "facilities"
        indexes = [models.Index(fields=["name", "id"], name="facility_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})"


class MinedSource(models.Model):
    """A mine, or recycled black mass treated as an urban mine."""

    class Method(models.TextChoices):
        INDUSTRIAL = "industrial", "Industrial (large-scale)"
        ARTISANAL = "artisanal", "Artisanal and small-scale"
        BRINE = "brine", "Brine"
        HARD_ROCK = "hard_rock", "Hard rock"
        BLACK_MASS = "black_mass", "Recycled black mass (urban mine)"

    name = models.CharField(max_length=200)
    minerals = models.ManyToManyField(Mineral, related_name="mined_sources")
    country = CountryField()
    region = models.CharField(max_length=120, blank=True)
    method = models.CharField(max_length=20, choices=Method.choices)
    cahra = models.BooleanField("in a conflict-affected or high-risk area", default=False)
    cahra_basis = models.CharField(max_length=300, blank=True)
    recycled_origin = models.CharField(
        max_length=15,
        blank=True,
        choices=[
            ("pre_consumer", "Pre-consumer (manufacturing scrap)"),
            ("post_consumer", "Post-consumer (end-of-life batteries)"),
        ],
        help_text="For black mass: where the recycled material comes from (default post-consumer)",
    )
    operator = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="operated_mines"
    )
    owners = models.ManyToManyField(Company, through="MineOwnership", related_name="owned_mines")

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["name", "id"], name="mine_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_artisanal(self) -> bool:
        return self.method == self.Method.ARTISANAL

    @property
    def is_recycled(self) -> bool:
        return self.method == self.Method.BLACK_MASS

    def clean(self) -> None:
        if self.cahra and not self.cahra_basis:
            raise ValidationError(
                {"cahra_basis": "Say why the area is conflict-affected or high-risk."}
            )


class MineOwnership(models.Model):
    mine = models.ForeignKey(MinedSource, on_delete=models.CASCADE, related_name="ownerships")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="mine_stakes")
    share_pct = models.DecimalField(max_digits=5, decimal_places=2)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mine", "company"], name="uniq_mine_owner"),
            models.CheckConstraint(
                condition=Q(share_pct__gt=0, share_pct__lte=100), name="mine_share_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.share_pct}% of {self.mine}"


class Attestation(models.Model):
    """A company's (or facility's) adherence to a standard, logged by an organisation."""

    class Type(models.TextChoices):
        SELF_DECLARATION = "self_declaration", "Self-declaration"
        MEMBERSHIP = "membership", "Membership"
        THIRD_PARTY_AUDIT = "third_party_audit", "Third-party audit"
        CERTIFICATION = "certification", "Certification"
        REGULATORY_FILING = "regulatory_filing", "Regulatory filing"

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        UNDER_REVIEW = "under_review", "Under review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private to the logging organisation"
        SHARED = "shared", "Shared with named organisations"
        PUBLIC = "public", "Public"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="attestations")
    standard = models.ForeignKey(Standard, on_delete=models.PROTECT, related_name="attestations")
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="attestations")
    facilities = models.ManyToManyField(Facility, blank=True, related_name="attestations")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    verifier = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="verified_attestations",
    )
    verifier_name = models.CharField(max_length=200, blank=True)
    reference = models.CharField(
        max_length=200, blank=True, help_text="Certificate or report number"
    )
    notes = models.TextField(blank=True)

    owner = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="logged_attestations"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    shared_with = models.ManyToManyField(
        Organisation, blank=True, related_name="attestations_shared_with_me"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: an update naming an older version is refused (409).
    version = models.PositiveIntegerField(default=1)

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()
    objects = AttestationQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="attestation_valid_range",
            )
        ]
        # The list's keyset orders (default and `ordering=`), and the date filters.
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["-valid_from", "id"], name="attestation_valid_from_idx"),
            models.Index(fields=["valid_until", "id"], name="attestation_valid_until_idx"),
            models.Index(fields=["updated_at", "id"], name="attestation_updated_idx"),
            models.Index(fields=["created_at"], name="attestation_created_idx"),
            models.Index(fields=["visibility"], name="attestation_visibility_idx"),
            # "Rests on demo data?" on every registry page: a LIMIT 1 that otherwise scans
            # the whole table when no demo row exists (selectors.holds_demo_data).
            models.Index(fields=["id"], condition=Q(demo=True), name="attestation_demo_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.company} · {self.standard} ({self.get_type_display()}, {self.status})"


# What a client or an officer writes on an attestation (API, admin, pages); answers
# carry these and what the registry adds.
ATTESTATION_INPUT_FIELDS = (
    "company",
    "standard",
    "type",
    "minerals",
    "facilities",
    "valid_from",
    "valid_until",
    "verifier",
    "verifier_name",
    "reference",
    "notes",
    "owner",
    "visibility",
    "shared_with",
)
ATTESTATION_M2M_FIELDS = ("minerals", "facilities", "shared_with")


# Attestation fields the registry keeps itself: shown, never written by a client or the admin.
ATTESTATION_MANAGED_FIELDS = (
    "status",
    "submitted_by",
    "reviewed_by",
    "version",
    "created_at",
    "updated_at",
)


class StatusChange(models.Model):
    """Every status an attestation has had, so coverage can be asked as of any date."""

    attestation = models.ForeignKey(
        Attestation, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, choices=Attestation.Status.choices)
    effective = models.DateField(help_text="Date from which the new status holds")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["effective", "id"]
        indexes = [models.Index(fields=["attestation", "effective"])]
        constraints = [
            # Expired is final: a redelivered or doubled expiry job can never record it twice.
            models.UniqueConstraint(
                fields=["attestation"],
                condition=models.Q(to_status="expired"),
                name="uniq_expiry_per_attestation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.attestation_id}: {self.from_status or '-'} -> {self.to_status}"


def evidence_path(instance: Evidence, filename: str) -> str:
    return f"evidence/{instance.sha256[:2]}/{instance.sha256}"


class Evidence(models.Model):
    attestation = models.ForeignKey(Attestation, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to=evidence_path)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(fields=["attestation", "sha256"], name="uniq_evidence_file")
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"


class ExpectationProfile(models.Model):
    """What coverage is expected of a company: a default, and extras per stage."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    stage = models.ForeignKey(
        Cell,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        limit_choices_to=STAGE_CELLS,
        related_name="+",
        help_text="Empty: applies to every company",
    )
    include_own_stages = models.BooleanField(
        default=False, help_text="Also expect the application cells of the company's own stages"
    )
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Expectation(models.Model):
    class Mode(models.TextChoices):
        ALL = "all", "Every cell"
        ANY = "any", "At least one cell"

    profile = models.ForeignKey(
        ExpectationProfile, on_delete=models.CASCADE, related_name="expectations"
    )
    code = models.SlugField(max_length=60)
    label = models.CharField(max_length=200)
    mode = models.CharField(max_length=3, choices=Mode.choices, default=Mode.ALL)
    cells = models.ManyToManyField(Cell, related_name="+")

    class Meta:
        ordering = ["profile", "id"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "code"], name="uniq_expectation_code")
        ]

    def __str__(self) -> str:
        return self.label


# --- Supply flows and production statistics --------------------------------


class Material(models.TextChoices):
    ORE = "ore", "Ore"
    CONCENTRATE = "concentrate", "Concentrate"
    INTERMEDIATE = "intermediate", "Intermediate (e.g. cobalt hydroxide, MHP, matte)"
    REFINED_CHEMICAL = "refined_chemical", "Refined chemical (sulfate, hydroxide, carbonate)"
    BLACK_MASS = "black_mass", "Black mass"
    CATHODE_MATERIAL = "cathode_material", "Cathode material / precursor"
    CELL = "cell", "Cell"
    PACK = "pack", "Pack"


class SupplyRelationship(models.Model):
    """Supplier to buyer: one material carrying one mineral, over a period.

    The amount is either tonnes of contained metal or the share of the buyer's
    supply of that mineral (buyers often know only the latter)."""

    supplier = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="supplies")
    buyer = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="purchases")
    supplier_facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="outbound"
    )
    buyer_facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound"
    )
    material = models.CharField(max_length=20, choices=Material.choices)
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(
        Cell,
        on_delete=models.PROTECT,
        limit_choices_to=STAGE_CELLS,
        related_name="+",
        help_text="The supplier's stage for this material",
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    volume_t = models.DecimalField(
        "volume (t contained)",
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    share_pct = models.DecimalField(
        "share of buyer's supply (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    note = models.CharField(max_length=300, blank=True)

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral", "buyer", "supplier"]
        indexes = [
            models.Index(fields=["buyer", "mineral"]),
            models.Index(fields=["supplier", "mineral"]),
            models.Index(fields=["id"], condition=Q(demo=True), name="relationship_demo_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(supplier=models.F("buyer")), name="supply_not_self"
            ),
            models.CheckConstraint(
                condition=Q(volume_t__isnull=True) | Q(volume_t__gte=0), name="supply_volume_ge_0"
            ),
            models.CheckConstraint(
                condition=Q(share_pct__isnull=True) | Q(share_pct__gte=0, share_pct__lte=100),
                name="supply_share_0_100",
            ),
            models.CheckConstraint(
                condition=Q(volume_t__isnull=False) | Q(share_pct__isnull=False),
                name="supply_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True)
                | Q(period_end__isnull=True)
                | Q(period_end__gte=models.F("period_start")),
                name="supply_period_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} → {self.buyer} ({self.mineral_id}, {self.material})"


class SourceLink(models.Model):
    """Mine to processing facility: the mine-to-processor flow of seed 000."""

    mine = models.ForeignKey(MinedSource, on_delete=models.PROTECT, related_name="source_links")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="source_links")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    volume_t = models.DecimalField(
        "volume (t contained)", max_digits=14, decimal_places=3, validators=[MinValueValidator(0)]
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral", "mine"]
        indexes = [models.Index(fields=["facility", "mineral"])]
        constraints = [
            models.CheckConstraint(condition=Q(volume_t__gte=0), name="source_volume_ge_0"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True)
                | Q(period_end__isnull=True)
                | Q(period_end__gte=models.F("period_start")),
                name="source_period_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mine} → {self.facility} ({self.mineral_id})"


class ProductionStatistic(models.Model):
    """Published production by country or by company (USGS Mineral Commodity Summaries,
    IEA, Cobalt Institute, company tables). A row is country-level when `company` is
    empty; a company row's `country` is the site's. The world total is its own row."""

    class Stage(models.TextChoices):
        MINING = "mining", "Mine production"
        REFINING = "refining", "Refinery / smelter / processing production"
        RECYCLING = "recycling", "Recycling (secondary production, never mining)"

    class Kind(models.TextChoices):
        COUNTRY = "country", "Country"
        OTHER = "other", "Other countries (unlisted producers)"
        WITHHELD = "withheld", "Withheld"
        WORLD = "world", "World total"

    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=60, help_text="As published: cobalt, alumina, ...")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COUNTRY)
    country = CountryField(blank=True)
    company = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="production_statistics",
        help_text="Empty for country-level rows and world totals",
    )
    label = models.CharField(max_length=80, help_text="The producer as named in the source")
    year = models.PositiveSmallIntegerField()
    estimated = models.BooleanField(default=False)
    quantity = models.DecimalField(max_digits=16, decimal_places=3, null=True, blank=True)
    unit = models.CharField(max_length=60)
    source = models.CharField(max_length=400)
    note = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["mineral", "product", "stage", "year", "-quantity"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "stage", "label", "year"],
                condition=models.Q(company__isnull=True),
                name="uniq_production_row",
            ),
            # A company produces at sites in several countries: one row per site country.
            models.UniqueConstraint(
                fields=["product", "stage", "year", "company", "country"],
                condition=models.Q(company__isnull=False),
                name="uniq_company_production_row",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.stage} {self.label} {self.year}: {self.quantity} {self.unit}"


class Rule(models.Model):
    """Parameters of a rule the registry checks, kept as data (editable in the admin)."""

    class Kind(models.TextChoices):
        HHI_BANDS = "hhi_bands", "HHI band thresholds"
        SINGLE_COUNTRY_CAP = "single_country_cap", "Single third-country share cap"
        CONCERN = "concern", "Countries / entities of concern"
        IRA_30D = "ira_30d", "US IRA 30D critical-mineral share"
        RECYCLED_CONTENT = "recycled_content", "Recycled-content minimums"
        PFE_MATERIAL_ASSISTANCE = (
            "pfe_material_assistance",
            "US prohibited foreign entity: material assistance cost ratio",
        )

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    params = models.JSONField()
    source = models.TextField()
    notes = models.TextField(blank=True)
    # A check on a date outside these answers "not_in_force" or "historical", never
    # pass/fail. Empty: no limit on that side.
    in_force_from = models.DateField(null=True, blank=True, help_text="First day in force")
    in_force_until = models.DateField(null=True, blank=True, help_text="Last day in force")

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(in_force_from__isnull=True)
                | models.Q(in_force_until__isnull=True)
                | models.Q(in_force_until__gte=models.F("in_force_from")),
                name="rule_in_force_ends_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def force_on(self, day: dt.date) -> str:
        """One of in_force, not_yet (before in_force_from), ended (after in_force_until)."""
        if self.in_force_from and day < self.in_force_from:
            return "not_yet"
        if self.in_force_until and day > self.in_force_until:
            return "ended"
        return "in_force"


# --- Sector figures that count private attestations (registry.privacy) ------------


class SectorSnapshot(models.Model):
    """The registry's coverage on one date, frozen: the only source of sector figures that
    count private attestations. Built by a job, never edited, so later edits to the
    registry cannot move its figures."""

    taken_on = models.DateField(unique=True, help_text="Coverage and group membership as on")
    created_at = models.DateTimeField(auto_now_add=True)
    # Secret: seeds every figure's noise, so nobody outside can subtract it.
    noise_salt = models.CharField(max_length=64, editable=False)
    company_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-taken_on"]

    def __str__(self) -> str:
        return f"Sector snapshot of {self.taken_on}"


class SectorSnapshotEntry(models.Model):
    """One company as a member of the groups of one stage and one mineral ('' = any), with
    the cells it covered on the snapshot date, private attestations included."""

    snapshot = models.ForeignKey(SectorSnapshot, on_delete=models.CASCADE, related_name="entries")
    # Not a foreign key: nothing done to the registry later may change a snapshot.
    company_id = models.PositiveIntegerField()
    stage = models.CharField(max_length=40, blank=True)
    mineral = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2)
    covered = models.JSONField(default=list)
    covered_independent = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "company_id", "stage", "mineral"],
                name="uniq_snapshot_entry",
            )
        ]
        indexes = [models.Index(fields=["snapshot", "stage", "mineral", "country"])]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: company {self.company_id} {self.stage}/{self.mineral}"


class PrivacyBudget(models.Model):
    """How many distinct private-data figures one requester drew in one period."""

    requester = models.CharField(max_length=40, help_text='"org:<id>", "user:<id>" or "anonymous"')
    period_start = models.DateField()
    spent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requester", "period_start"], name="uniq_budget")
        ]

    def __str__(self) -> str:
        return f"{self.requester} from {self.period_start}: {self.spent}"


class PrivacyDraw(models.Model):
    """One figure a budget paid for: drawing it again costs nothing (it is the same number)."""

    budget = models.ForeignKey(PrivacyBudget, on_delete=models.CASCADE, related_name="draws")
    key = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "key"], name="uniq_draw")]

    def __str__(self) -> str:
        return f"{self.budget_id}: {self.key[:12]}"


# --- Kept results of population computations (registry.kept) -----------------------


class InputGeneration(models.Model):
    """A counter bumped, by database triggers in the same transaction, by every write to
    a table a kept result is computed from (migration 0009 lists them). Triggers rather
    than signals: they also see queryset updates, bulk creates and raw SQL, in every
    process, and cost the application no query. One row: results over the whole registry
    depend on nearly every input table, so finer counters would save little."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class KeptResult(models.Model):
    """The answer of one population computation, kept until its inputs change.

    Keyed by kind, normalised parameters and the requester's visibility scope ("public",
    "org:<id>", "staff"): the answer counts only the attestations that scope may see, so
    one scope's result is never served to another. `generation` is the input generation
    the answer was computed from; it is fresh while that equals the current one.
    `requested_generation` / `requested_at` mark a refresh job already enqueued, so a
    burst of requests sends one job."""

    kind = models.CharField(max_length=40)
    params = models.CharField(max_length=64, help_text="SHA-256 of the normalised parameters")
    scope = models.CharField(max_length=40, help_text='"public", "org:<id>" or "staff"')
    params_json = models.JSONField(default=dict, help_text="The parameters, for the job")
    payload = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    generation = models.BigIntegerField(null=True, blank=True)
    requested_generation = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    row_count = models.PositiveIntegerField(default=0, help_text="Rows in the pages")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "params", "scope"], name="uniq_kept_result")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.params[:12]} ({self.scope}) @ {self.generation}"


class KeptResultChunk(models.Model):
    """A run of rows of a kept result's list (flows, companies lacking coverage), so a
    page is read without reading the whole list. Written with the result, under its row
    lock, and tagged with its generation."""

    result = models.ForeignKey(KeptResult, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    generation = models.BigIntegerField()
    rows = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["result", "number"], name="uniq_kept_chunk")]

    def __str__(self) -> str:
        return f"{self.result_id} #{self.number}"


class KeptGrade(models.Model):
    """One company's grade in a kept grading of the whole registry (kind "company_grades"),
    so the companies list filters by grade with an EXISTS over this table instead of
    grading 50,000 companies per request or sending their ids back as parameters. Rows are
    written with their result under its row lock and tagged with its generation; a newer
    generation replaces them."""

    result = models.ForeignKey(KeptResult, on_delete=models.CASCADE, related_name="grades")
    generation = models.BigIntegerField()
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["result", "generation", "company"], name="uniq_kept_grade"
            )
        ]
        indexes = [
            models.Index(
                fields=["result", "generation", "level", "company"], name="kept_grade_level"
            )
        ]

    def __str__(self) -> str:
        return f"{self.company_id}: {self.level} ({self.result_id} @ {self.generation})"
