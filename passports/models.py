"""Battery passports (EU Battery Regulation Annex XIII, Battery Pass data model 1.2.0).

The canonical data of a passport is the Battery Pass 1.2.0 document itself:
{aspect: payload} for the seven aspects. `passports/catalogue.py` says which JSON
paths carry each of the 93 attributes, which is how access tiers filter it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models import Attestation, Company, MinedSource, Organisation, SupplyRelationship

from .gtin import normalise as normalise_gtin
from .gtin import validate_gtin


class BatteryCategory(models.TextChoices):
    EV = "ev", "Electric vehicle battery"
    LMT = "lmt", "Light means of transport battery"
    INDUSTRIAL = "industrial", "Industrial battery over 2 kWh"
    STATIONARY = "stationary", "Stationary battery energy storage system over 2 kWh"


class Access(models.TextChoices):
    """The `access` column of attributes.csv (Art. 77(2))."""

    PUBLIC = "public", "Public"
    LEGITIMATE_INTEREST = "legitimate_interest", "Persons with a legitimate interest"
    LEGITIMATE_INTEREST_COMMISSION = (
        "legitimate_interest_commission",
        "Persons with a legitimate interest and the Commission",
    )
    AUTHORITIES = (
        "authorities",
        "Notified bodies, market surveillance authorities and the Commission",
    )


class PassportAttribute(models.Model):
    """One of the 93 attributes of the Battery Pass longlist, loaded from attributes.csv."""

    number = models.PositiveSmallIntegerField(unique=True)
    # Free texts of the data model's attributes.csv, kept whole.
    category = models.TextField()
    subcategory = models.TextField(blank=True)
    name = models.TextField()
    regulation_reference = models.TextField(blank=True)
    unit = models.TextField(blank=True)
    data_format = models.TextField(blank=True)
    access = models.CharField(max_length=40, choices=Access.choices)
    dynamic = models.BooleanField(default=False)
    individual = models.BooleanField(help_text="Granularity: individual battery (else model)")
    mandatory_ev = models.CharField(max_length=1, blank=True, help_text="x mandatory, o voluntary")
    mandatory_lmt = models.CharField(max_length=1, blank=True)
    mandatory_industrial = models.CharField(max_length=1, blank=True)
    mandatory_stationary = models.CharField(max_length=1, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"

    def mandatory_for(self, category: str) -> bool:
        return getattr(self, f"mandatory_{category}") == "x"


class BatteryModel(models.Model):
    """Static attributes shared by every battery of a model, and its supply chain."""

    manufacturer = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="battery_models"
    )
    model_identifier = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=BatteryCategory.choices)
    chemistry = models.CharField(max_length=40, help_text="Short name, e.g. NMC811, LFP")
    # The trade item's GTIN: with a battery's serial it makes the Digital Link its QR
    # code carries (passports/resolver.py). Kept as GTIN-14.
    gtin = models.CharField(
        "GTIN",
        max_length=14,
        blank=True,
        db_index=True,
        validators=[validate_gtin],
        help_text="GS1 GTIN-8, 12, 13 or 14 with its check digit; kept as 14 digits",
    )
    data = models.JSONField(
        default=dict,
        blank=True,
        help_text="Model-level values, in the Battery Pass 1.2.0 structure",
    )
    catenax_extra = models.JSONField(
        default=dict, blank=True, help_text="Facts Catena-X needs that Battery Pass lacks"
    )
    supply_relationships = models.ManyToManyField(
        SupplyRelationship, blank=True, related_name="battery_models"
    )
    mined_sources = models.ManyToManyField(MinedSource, blank=True, related_name="battery_models")
    attestations = models.ManyToManyField(Attestation, blank=True, related_name="battery_models")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["manufacturer__legal_name", "model_identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "model_identifier"], name="uniq_battery_model"
            ),
            # A GTIN names one trade item (GS1 GTIN Management Standard): two models with
            # one GTIN would make a Digital Link ambiguous.
            models.UniqueConstraint(
                fields=["gtin"], condition=~models.Q(gtin=""), name="uniq_battery_model_gtin"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.model_identifier})"

    def save(self, *args, **kwargs):
        if self.gtin:  # any accepted length is kept as GTIN-14; a bad one is refused
            self.gtin = normalise_gtin(self.gtin)
        super().save(*args, **kwargs)


class Lifecycle(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class BatteryStatus(models.TextChoices):
    ORIGINAL = "original", "Original"
    REPURPOSED = "repurposed", "Repurposed"
    REUSED = "reused", "Reused"
    REMANUFACTURED = "remanufactured", "Remanufactured"
    WASTE = "waste", "Waste"


SUCCESSOR_STATUS_CHOICES = [
    (BatteryStatus.REPURPOSED.value, BatteryStatus.REPURPOSED.label),
    (BatteryStatus.REMANUFACTURED.value, BatteryStatus.REMANUFACTURED.label),
]


class BatteryPassport(models.Model):
    internal_id = models.CharField(
        max_length=40,
        unique=True,
        help_text="ISO/IEC 15459-style: issuing agency code, company code, serial",
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batterypass_id = models.CharField(
        max_length=100,
        unique=True,
        help_text="Battery Pass identifier: derived from internal_id, or the one an import brought",
    )
    battery_identifier = models.CharField(max_length=100, help_text="Serial or product number")
    battery_model = models.ForeignKey(
        BatteryModel, on_delete=models.PROTECT, related_name="passports"
    )
    economic_operator = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="operated_passports"
    )
    lifecycle = models.CharField(max_length=10, choices=Lifecycle.choices, default=Lifecycle.DRAFT)
    battery_status = models.CharField(
        max_length=20, choices=BatteryStatus.choices, default=BatteryStatus.ORIGINAL
    )
    predecessor = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="successor",
        help_text="The passport of the battery before repurposing or remanufacturing (Art. 77(7))",
    )
    # Individual-level values (Battery Pass structure); model values come from the model.
    data = models.JSONField(default=dict, blank=True)
    # Derived for fast reads: the merged current document and its public projection.
    document = models.JSONField(default=dict, blank=True, editable=False)
    public_document = models.JSONField(default=dict, blank=True, editable=False)
    version = models.PositiveIntegerField(default=0, help_text="Latest published version")
    revision = models.PositiveIntegerField(default=0, help_text="Bumped on every change")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # End of life (Art. 77(6)): once the battery is recycled the passport ceases; its
    # versions stay readable. Not a lifecycle value: every read of published passports
    # (API, page, credentials) must keep finding it.
    ceased_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the passport ceased (recycled)"
    )
    recycled_on = models.DateField(null=True, blank=True, editable=False)
    recycler = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recycled_passports",
        editable=False,
        help_text="The organisation that recycled the battery",
    )

    demo = models.BooleanField(
        default=False, editable=False, help_text="Illustrative demo record, not real data"
    )

    # Every change of a draft and every publication, with who made it; the merged
    # documents are derived from the rest, so they are not copied into history.
    history = HistoricalRecords(excluded_fields=["document", "public_document"])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["battery_model", "battery_identifier"], name="uniq_battery_identifier"
            )
        ]
        indexes = [models.Index(fields=["lifecycle", "updated_at"])]

    def __str__(self) -> str:
        return self.internal_id

    def clean(self):
        super().clean()
        self.refuse_cycle()

    def refuse_cycle(self) -> None:
        """A battery's passports follow each other: a predecessor that is this passport or
        comes after it would make the chain a cycle (the chain walk and Art. 77(7) links)."""
        if self.pk is None or self.predecessor_id is None:
            return  # a new passport has no successors yet
        seen: set[int] = set()
        current = self.predecessor_id
        while current is not None and current not in seen:  # seen: a cycle already stored
            if current == self.pk:
                where = (
                    "is this passport itself"
                    if self.predecessor_id == self.pk
                    else "comes after this passport"
                )
                raise ValidationError(
                    {
                        "predecessor": f"{self.predecessor} cannot be the predecessor of "
                        f"{self}: it {where}, which would make the battery's passports a cycle."
                    }
                )
            seen.add(current)
            current = (
                BatteryPassport.objects.filter(pk=current)
                .values_list("predecessor_id", flat=True)
                .first()
            )

    @property
    def category(self) -> str:
        return self.battery_model.category

    @property
    def ceased(self) -> bool:
        return self.ceased_at is not None


class PassportVersion(models.Model):
    """An immutable snapshot of a published passport."""

    passport = models.ForeignKey(BatteryPassport, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    battery_status = models.CharField(max_length=20, choices=BatteryStatus.choices)
    changed_attributes = models.JSONField(default=list)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["passport", "number"]
        constraints = [
            models.UniqueConstraint(fields=["passport", "number"], name="uniq_passport_version")
        ]

    def __str__(self) -> str:
        return f"{self.passport} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("A published version cannot be changed; publish a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A published version cannot be deleted.")


class DynamicReading(models.Model):
    """Append-only time series of a dynamic attribute (state of health, cycles, events...)."""

    passport = models.ForeignKey(BatteryPassport, on_delete=models.PROTECT, related_name="readings")
    attribute = models.ForeignKey(PassportAttribute, on_delete=models.PROTECT, related_name="+")
    value = models.JSONField()
    measured_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["passport", "measured_at", "id"]
        indexes = [models.Index(fields=["passport", "attribute", "measured_at"])]

    def __str__(self) -> str:
        return f"{self.passport_id} #{self.attribute_id} @ {self.measured_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Readings are appended, never changed.")
        super().save(*args, **kwargs)


class PassportEvent(models.Model):
    """The change feed: one row per change; its id is the cursor."""

    class Kind(models.TextChoices):
        PUBLISHED = "published", "Published"
        VERSION = "version", "New version"
        READING = "reading", "Dynamic data appended"
        STATUS = "status", "Battery status changed"
        CEASED = "ceased", "Passport ceased (battery recycled)"

    passport = models.ForeignKey(BatteryPassport, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    version = models.PositiveIntegerField(default=0)
    attributes = models.JSONField(default=list, help_text="Attribute numbers that changed")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id}: {self.kind} {self.passport_id} v{self.version}"


class AccessGrant(models.Model):
    """An organisation's access tier to passports beyond the public part."""

    class Tier(models.TextChoices):
        LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
        COMMISSION = "commission", "European Commission"
        AUTHORITY = "authority", "Notified body / market surveillance authority"

    class Purpose(models.TextChoices):
        RECYCLER = "recycler", "Recycler"
        REPAIRER = "repairer", "Repairer"
        SECOND_LIFE = "second_life", "Second-life operator (repurposing, remanufacturing)"
        INVESTOR = "investor", "Investor / financier"
        AUTHORITY = "authority", "Public authority"
        OTHER = "other", "Other"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="passport_grants"
    )
    tier = models.CharField(max_length=30, choices=Tier.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    manufacturer = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Limit the grant to one manufacturer's passports (empty: all)",
    )
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organisation", "tier"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.get_tier_display()}"
