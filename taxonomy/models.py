from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_countries import countries
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from .matrix import EXTRACTION_METHODS


class Dimension(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=80)
    question = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.label


class Cell(models.Model):
    """One yes/no question of the matrix, e.g. `implementation.industry.public_reporting`."""

    code = models.CharField(max_length=80, unique=True)
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="cells")
    group = models.CharField(max_length=40, blank=True)
    group_label = models.CharField(max_length=80, blank=True)
    label = models.CharField(max_length=120)
    description = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        if self.group_label:
            return f"{self.dimension.label} / {self.group_label} / {self.label}"
        return f"{self.dimension.label} / {self.label}"


class Mineral(models.Model):
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StandardKind(models.TextChoices):
    LAW = "law_regulation", "Law or regulation"
    GOVERNMENT_GUIDANCE = "government_guidance", "Government / intergovernmental guidance"
    INDUSTRY = "industry_initiative", "Industry initiative"
    MULTI_STAKEHOLDER = "multi_stakeholder_standard", "Multi-stakeholder standard"
    PUBLIC_PRIVATE = "public_private_initiative", "Public-private initiative"


def validate_jurisdiction(value: str) -> None:
    if value in ("EU", "INT") or value in dict(countries):
        return
    raise ValidationError(
        f"{value!r} is not a jurisdiction: use an ISO 3166-1 alpha-2 code, EU or INT"
    )


def status_on_expression(on):
    """SQL for a standard's status on a date (StandardStatus.status_on, in one query):
    the last change on or before `on`; none recorded at all: in force (unknown otherwise);
    only later ones: not yet proposed."""
    changes = StandardStatusChange.objects.filter(standard=OuterRef("pk"))
    latest = changes.filter(on__lte=on).order_by("-on", "-pk").values("status")[:1]
    return Case(
        When(~Exists(changes), then=Value(StandardStatus.IN_FORCE)),
        default=Coalesce(Subquery(latest), Value(NOT_YET)),
        output_field=models.CharField(),
    )


class StandardQuerySet(models.QuerySet):
    def with_status_on(self, on) -> StandardQuerySet:
        """Annotate `status_on`: each standard's status on `on` (no extra query)."""
        return self.annotate(status_on=status_on_expression(on))

    def in_force_on(self, on) -> StandardQuerySet:
        return self.alias(_status_in_force_on=status_on_expression(on)).filter(
            _status_in_force_on=StandardStatus.IN_FORCE
        )

    def with_cell_count(self) -> StandardQuerySet:
        return self.annotate(cell_count=Count("standard_cells", distinct=True))

    def covering_all(self, cell_codes: list[str]) -> StandardQuerySet:
        """Standards whose own cells include every code given (one SQL query)."""
        codes = set(cell_codes)
        return (
            self.annotate(
                _matched=Count("standard_cells", filter=Q(standard_cells__cell__code__in=codes))
            )
            .filter(_matched=len(codes))
            .order_by("short_name")
        )

    def covering_any(self, cell_codes: list[str]) -> StandardQuerySet:
        return (
            self.filter(standard_cells__cell__code__in=set(cell_codes))
            .distinct()
            .order_by("short_name")
        )


class Standard(models.Model):
    CRITERIA = ("widely_accepted", "multi_stakeholder", "independently_verified", "transparent")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=255)
    short_name = models.CharField(max_length=60)
    kind = models.CharField(max_length=40, choices=StandardKind.choices)
    jurisdiction = models.CharField(
        max_length=3,
        validators=[validate_jurisdiction],
        help_text="ISO 3166-1 alpha-2 country code, EU, or INT for international",
    )
    year = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=500, blank=True)
    binding = models.BooleanField(
        help_text="Binding when in force: legally binding on those in scope while its status "
        "history says it is in force (see StandardStatusChange)"
    )
    summary = models.TextField(blank=True)

    # Scope in detail: no minerals means every mineral.
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="standards")
    covers_industrial = models.BooleanField(default=True)
    covers_artisanal = models.BooleanField(default=True)
    covers_recycled = models.BooleanField(default=False)
    countries = CountryField(multiple=True, blank=True)
    cahra = models.BooleanField(
        "targets conflict-affected and high-risk areas",
        default=False,
    )
    scope_note = models.TextField(blank=True)

    # The report's four criteria for a standard fit for universal adherence.
    widely_accepted = models.BooleanField(default=False)
    widely_accepted_basis = models.CharField(max_length=300, blank=True)
    multi_stakeholder = models.BooleanField(default=False)
    multi_stakeholder_basis = models.CharField(max_length=300, blank=True)
    independently_verified = models.BooleanField(default=False)
    independently_verified_basis = models.CharField(max_length=300, blank=True)
    transparent = models.BooleanField(default=False)
    transparent_basis = models.CharField(max_length=300, blank=True)

    sources = models.JSONField(default=list, blank=True)
    cells = models.ManyToManyField(Cell, through="StandardCell", related_name="standards")

    history = HistoricalRecords()
    objects = StandardQuerySet.as_manager()

    class Meta:
        ordering = ["short_name"]

    def __str__(self) -> str:
        return self.short_name

    @property
    def extraction_methods(self) -> list[str]:
        flags = {
            "industrial": self.covers_industrial,
            "artisanal": self.covers_artisanal,
            "recycled": self.covers_recycled,
        }
        return [code for code, _ in EXTRACTION_METHODS if flags[code]]

    @property
    def criteria_met(self) -> int:
        return sum(bool(getattr(self, name)) for name in self.CRITERIA)


class StandardCell(models.Model):
    """A standard covers a cell; the clause and basis say where that judgement comes from."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="standard_cells")
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="standard_cells")
    clause = models.CharField(max_length=200, blank=True)
    basis = models.CharField(max_length=500, blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["standard", "cell"], name="uniq_standard_cell")
        ]
        ordering = ["cell__order"]

    def __str__(self) -> str:
        return f"{self.standard} covers {self.cell.code}"


class LinkKind(models.TextChoices):
    INCORPORATES = "incorporates", "Incorporates (directly)"
    REFERENCES = "references", "References (partially)"


class StandardLink(models.Model):
    """Directional: `source` incorporates or references `target`."""

    source = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=20, choices=LinkKind.choices)
    note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="uniq_standard_link"),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="standard_link_not_self"
            ),
        ]
        ordering = ["source__short_name", "kind", "target__short_name"]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.target}"

    def clean(self) -> None:
        if self.source_id and self.source_id == self.target_id:
            raise ValidationError("A standard cannot link to itself.")


# --- The instrument in time -------------------------------------------------


class StandardStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    # Adopted, perhaps formally in force, but its obligations do not apply yet.
    ADOPTED = "adopted", "Adopted, not yet applying"
    # Applies: binds those in scope (a law) or is open for assessment (a voluntary standard).
    IN_FORCE = "in_force", "In force"
    SUSPENDED = "suspended", "Suspended or paused"
    ENDED = "ended", "Ended"
    REPEALED = "repealed", "Repealed"


# A date before a standard's first recorded change.
NOT_YET = "not_yet"
STATUS_LABELS = {**dict(StandardStatus.choices), NOT_YET: "Not yet proposed"}


class StandardStatusChange(models.Model):
    """From `on`, the standard has `status`. A change may repeat the status: a milestone
    that leaves it where it was (an amendment adopted, a duty suspended)."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="status_changes")
    on = models.DateField()
    status = models.CharField(max_length=20, choices=StandardStatus.choices)
    note = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=500, help_text="URL or citation")
    uncertain = models.CharField(
        max_length=300, blank=True, help_text="Why the date or fact is not certain; empty: sourced"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["standard_id", "on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["standard", "on", "status"], name="uniq_standard_status_change"
            )
        ]

    def __str__(self) -> str:
        return f"{self.standard} {self.status} from {self.on}"


class StandardVersion(models.Model):
    """The requirements of a standard in effect from `valid_from` until the next version.

    The `current` version is the text `standards.yaml` describes: its cells, criteria and
    links are the standard's own (StandardCell, the criteria fields, StandardLink). Other
    versions hold their own cell set, and criteria or links where they differ."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="versions")
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=200)
    valid_from = models.DateField(null=True, blank=True, help_text="Empty: from the start")
    current = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="URL or citation")
    uncertain = models.CharField(max_length=300, blank=True)
    criteria = models.JSONField(
        default=dict, blank=True, help_text="Criteria that differ: {name: {value, basis}}"
    )
    links = models.JSONField(
        null=True,
        blank=True,
        help_text="Its links [{target, kind, note}]; empty: the standard's own links",
    )
    cells = models.ManyToManyField(Cell, through="VersionCell", related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["standard_id", models.F("valid_from").asc(nulls_first=True)]
        constraints = [
            models.UniqueConstraint(fields=["standard", "code"], name="uniq_standard_version"),
            models.UniqueConstraint(
                fields=["standard"], condition=Q(current=True), name="one_current_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.standard} {self.label}"


class VersionCell(models.Model):
    version = models.ForeignKey(
        StandardVersion, on_delete=models.CASCADE, related_name="version_cells"
    )
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="+")
    clause = models.CharField(max_length=200, blank=True)
    basis = models.CharField(max_length=500, blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "cell"], name="uniq_version_cell")
        ]
        ordering = ["cell__order"]

    def __str__(self) -> str:
        return f"{self.version} covers {self.cell.code}"


# --- Curation: changes to reference data, proposed and reviewed ---------------------


class ProposalKind(models.TextChoices):
    CELL_SET = "cell_set", "Add a cell or change its clause and basis"
    CELL_REMOVE = "cell_remove", "Remove a cell"
    CRITERION = "criterion", "Change a criterion"
    LINK_SET = "link_set", "Add a link or change its note"
    LINK_REMOVE = "link_remove", "Remove a link"
    STATUS_ADD = "status_add", "Add a status change"
    STATUS_REMOVE = "status_remove", "Remove a status change"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ReferenceProposal(models.Model):
    """A change to a standard's reference data, with its source and reason: nothing
    changes until a second person approves it (taxonomy.services.approve)."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=20, choices=ProposalKind.choices)
    payload = models.JSONField(help_text="The change, in the reference file's terms")
    source = models.CharField(max_length=500, help_text="URL or citation backing the change")
    reason = models.TextField()
    # PROTECT: who proposed and who decided a change to public judgements stays known.
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        constraints = [
            # The database holds the four-eyes rule too, whatever path writes.
            models.CheckConstraint(
                condition=~Q(reviewed_by=models.F("proposed_by")),
                name="proposal_not_reviewed_by_proposer",
            ),
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.PROPOSED, reviewed_at__isnull=True)
                | Q(
                    ~Q(status=ProposalStatus.PROPOSED),
                    reviewed_at__isnull=False,
                    reviewed_by__isnull=False,
                ),
                name="proposal_decided_has_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(status=ProposalStatus.REJECTED) | ~Q(review_note=""),
                name="proposal_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.standard}: {self.get_kind_display()} ({self.status})"

    @property
    def summary(self) -> str:
        """The change in a line, for pages and the admin."""
        p = self.payload or {}
        if self.kind == ProposalKind.CELL_SET:
            return f"{p.get('cell')}: clause {p.get('clause')!r}, basis {p.get('basis')!r}"
        if self.kind == ProposalKind.CELL_REMOVE:
            return f"remove {p.get('cell')}"
        if self.kind == ProposalKind.CRITERION:
            value = "yes" if p.get("value") else "no"
            return f"{p.get('criterion')}: {value} ({p.get('basis')})"
        if self.kind == ProposalKind.LINK_SET:
            return f"{p.get('kind')} {p.get('target')}" + (
                f" ({p['note']})" if p.get("note") else ""
            )
        if self.kind == ProposalKind.LINK_REMOVE:
            return f"remove link: {p.get('kind')} {p.get('target')}"
        if self.kind == ProposalKind.STATUS_ADD:
            return f"{p.get('status')} from {p.get('date')}" + (
                f" ({p['note']})" if p.get("note") else ""
            )
        return f"remove status {p.get('status')} from {p.get('date')}"
