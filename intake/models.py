"""Import jobs: one uploaded file, read by one kind of import (intake.kinds), as a job
with progress, findings and what it wrote."""

from __future__ import annotations

from django.conf import settings
from django.db import models


def upload_path(instance: ImportJob, filename: str) -> str:
    # Content-addressed: the same bytes are stored once, whatever they were called.
    return f"intake/{instance.sha256[:2]}/{instance.sha256}"


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=40, help_text="A key of intake.kinds.KINDS")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    dry_run = models.BooleanField(default=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)
    # Times a worker started it: a job redelivered after its worker died starts again.
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, help_text="Why the job failed")
    # The uploaded file, kept as hashed evidence of what was imported.
    file = models.FileField(upload_to=upload_path, max_length=200)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    organisation = models.ForeignKey(
        "registry.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
    )
    # A commit of a dry-run job points at it: the findings the officer saw.
    dry_run_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="commits"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.status})"

    @property
    def written(self) -> bool:
        return self.status == self.Status.DONE and not self.dry_run


# --- RMI reporting templates (intake.rmi) -----------------------------------------------


class RmiLookupEntry(models.Model):
    """One row of RMI's Smelter Look-up of a template version, as of its release: the
    reference a declared smelter ID is checked against (loaded from the shipped blank
    template, never from a supplier's copy)."""

    version = models.CharField(max_length=12, help_text='e.g. "EMRT 2.1"')
    as_of = models.DateField(help_text="The template version's release date")
    metal = models.CharField(max_length=60)
    alias = models.CharField(max_length=255)
    name = models.CharField(max_length=255, help_text="RMI's standard smelter name")
    country = models.CharField(max_length=80)
    cid = models.CharField("RMI smelter ID", max_length=9, db_index=True)

    class Meta:
        ordering = ["version", "metal", "alias"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "metal", "alias"], name="uniq_rmi_lookup_alias"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.cid} {self.alias}"


class SupplierDeclaration(models.Model):
    """A supplier's RMI template (EMRT, CMRT, AMRT) as received by an organisation. A newer
    one of the same template supersedes it; the older stays as history."""

    owner = models.ForeignKey(
        "registry.Organisation", on_delete=models.PROTECT, related_name="rmi_declarations"
    )
    supplier = models.ForeignKey(
        "registry.Company", on_delete=models.PROTECT, related_name="rmi_declarations"
    )
    template = models.CharField(max_length=4)
    version = models.CharField(max_length=8)
    effective_date = models.DateField()
    scope = models.CharField(max_length=60)
    scope_description = models.CharField(max_length=500, blank=True)
    minerals = models.JSONField(default=list)
    company_info = models.JSONField(default=dict, help_text="Contact, authoriser, IDs")
    answers = models.JSONField(default=dict)
    products = models.JSONField(default=list, blank=True)
    # The file itself is the import job's, kept content-addressed (hashed) as evidence.
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.PROTECT, related_name="rmi_declarations"
    )
    sha256 = models.CharField(max_length=64)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_date", "-id"]
        indexes = [models.Index(fields=["owner", "supplier", "template"])]
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="uniq_rmi_declaration_file")
        ]

    def __str__(self) -> str:
        return f"{self.supplier} {self.template} {self.version} of {self.effective_date}"


class DeclaredSmelter(models.Model):
    """A smelter a supplier declares in its template: "declared, volume unknown". Kept
    here, not as a registry SupplyRelationship, which must carry a volume or a share."""

    class Match(models.TextChoices):
        CID = "cid", "Matched by RMI smelter ID"
        CREATED = "created", "New facility created from RMI's look-up"
        PROPOSED = "proposed", "Name and country match proposed, to confirm"
        CONFIRMED = "confirmed", "Name and country match confirmed by a person"
        UNMATCHED = "unmatched", "Not matched"
        PLACEHOLDER = "placeholder", "Smelter not yet identified"

    declaration = models.ForeignKey(
        SupplierDeclaration, on_delete=models.CASCADE, related_name="smelters"
    )
    row = models.PositiveIntegerField()
    metal = models.CharField(max_length=60)
    mineral = models.ForeignKey(
        "taxonomy.Mineral", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cid = models.CharField(max_length=9, blank=True)
    name = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=2, blank=True)
    facility = models.ForeignKey(
        "registry.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rmi_declared",
    )
    match = models.CharField(max_length=12, choices=Match.choices)
    candidate = models.ForeignKey(
        "registry.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    score = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["declaration", "row"]
        indexes = [models.Index(fields=["facility"], name="declared_smelter_facility_idx")]

    def __str__(self) -> str:
        return f"{self.name or self.cid} ({self.metal})"


class DeclaredMine(models.Model):
    declaration = models.ForeignKey(
        SupplierDeclaration, on_delete=models.CASCADE, related_name="mines"
    )
    row = models.PositiveIntegerField()
    metal = models.CharField(max_length=60)
    name = models.CharField(max_length=255)
    mine_id = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True)
    smelter_names = models.CharField(max_length=500, blank=True)
    mined_source = models.ForeignKey(
        "registry.MinedSource", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["declaration", "row"]

    def __str__(self) -> str:
        return self.name


class ConformantList(models.Model):
    """RMI's conformant and active facility list as downloaded on a date."""

    listed_on = models.DateField(help_text="The date of the list (as published by RMI)")
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-listed_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["listed_on", "sha256"], name="uniq_conformant_list")
        ]

    def __str__(self) -> str:
        return f"RMI conformant facility list {self.listed_on}"


class ConformantEntry(models.Model):
    class Status(models.TextChoices):
        CONFORMANT = "conformant", "Conformant"
        ACTIVE = "active", "Active (assessment under way)"

    list = models.ForeignKey(ConformantList, on_delete=models.CASCADE, related_name="entries")
    cid = models.CharField(max_length=9)
    name = models.CharField(max_length=255)
    country = models.CharField(max_length=2, blank=True)
    metal = models.CharField(max_length=60)
    status = models.CharField(max_length=12, choices=Status.choices)
    last_audit = models.DateField(null=True, blank=True)
    reaudit_due = models.DateField(null=True, blank=True)
    facility = models.ForeignKey(
        "registry.Facility", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["list", "cid"]
        constraints = [
            models.UniqueConstraint(fields=["list", "cid", "metal"], name="uniq_conformant_entry")
        ]
        indexes = [models.Index(fields=["cid", "list"], name="conformant_cid_idx")]

    def __str__(self) -> str:
        return f"{self.cid} {self.status} ({self.list.listed_on})"
