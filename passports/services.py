"""Writes to passports. Published data is never overwritten: each change is a new
immutable version; dynamic data is appended as readings."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from config.errors import Conflict
from registry.querysets import Requester

from . import access, selectors
from .catalogue import ATTRIBUTE_PATHS, values_of
from .models import (
    BatteryModel,
    BatteryPassport,
    BatteryStatus,
    DynamicReading,
    Lifecycle,
    PassportAttribute,
    PassportEvent,
    PassportVersion,
)
from .permissions import can_repurpose
from .schemas import schema_errors

STATUS_LABELS = {s.value: s.label for s in BatteryStatus}  # Battery Pass enum: "Original", ...
SUCCESSOR_STATUSES = {BatteryStatus.REPURPOSED, BatteryStatus.REMANUFACTURED}
STATUS_ATTRIBUTE = access.STATUS_ATTRIBUTE

logger = logging.getLogger(__name__)


# --- Identifiers ---------------------------------------------------------------

_SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # Crockford base32: no I, O, U


def new_internal_id(manufacturer) -> str:
    """ISO/IEC 15459 style: issuing agency code . company identification . serial."""
    company = manufacturer.lei or f"C{manufacturer.pk:07d}"
    serial = "".join(secrets.choice(_SERIAL_ALPHABET) for _ in range(12))
    return f"{settings.PASSPORT_ISSUING_AGENCY}.{company}.{serial}"


def batterypass_identifier(internal_id: str) -> str:
    """Battery Pass 1.2.0 wants `^urn:[a-z0-9]+:[a-z0-9]+$`: no dots or hyphens."""
    agency, rest = internal_id.split(".", 1)
    return f"urn:{re.sub('[^a-z0-9]', '', agency.lower())}:{re.sub('[^a-z0-9]', '', rest.lower())}"


# --- Documents -------------------------------------------------------------------


def merge(base: dict, override: dict) -> dict:
    """Model values under the passport's own: objects merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def attribute_values(document: dict, number: int) -> list:
    """An attribute's values, only its own rows where one array holds several attributes."""
    return values_of(document, number)


def changed_attributes(before: dict, after: dict) -> list[int]:
    return [
        n
        for n in sorted(ATTRIBUTE_PATHS)
        if attribute_values(before, n) != attribute_values(after, n)
    ]


def _present(values: list) -> bool:
    return any(v not in (None, "", [], {}) for v in values)


def missing_mandatory(document: dict, category: str) -> list[PassportAttribute]:
    """Attributes mandatory for the category that the document does not carry."""
    return [
        attribute
        for attribute in PassportAttribute.objects.all()
        if attribute.mandatory_for(category)
        and attribute.number in ATTRIBUTE_PATHS
        and not _present(attribute_values(document, attribute.number))
    ]


def current_document(passport: BatteryPassport) -> dict:
    """The merged document: model values, the passport's own, and identity fields."""
    document = merge(passport.battery_model.data, passport.data)
    general = document.setdefault("GeneralProductInformation", {})
    general["batteryPassportIdentifier"] = passport.batterypass_id
    general["productIdentifier"] = passport.battery_identifier
    general["batteryStatus"] = STATUS_LABELS[passport.battery_status]
    general["batteryCategory"] = passport.battery_model.category
    return document


def _refresh(passport: BatteryPassport, document: dict) -> None:
    passport.document = document
    passport.public_document = access.project(document, access.PUBLIC)
    passport.revision += 1


# --- Lifecycle -------------------------------------------------------------------


@transaction.atomic
def passport_create(
    *,
    battery_model: BatteryModel,
    battery_identifier: str,
    economic_operator,
    data: dict | None = None,
    user=None,
    predecessor: BatteryPassport | None = None,
    battery_status: str = BatteryStatus.ORIGINAL,
) -> BatteryPassport:
    if predecessor is None and battery_status in SUCCESSOR_STATUSES:
        raise ValidationError(
            {
                "predecessor": "A repurposed or remanufactured battery's passport "
                "must name its predecessor (Art. 77(7))."
            }
        )
    errors = schema_errors(data or {}, partial=True)
    if errors:
        raise ValidationError({"data": errors})
    internal_id = new_internal_id(battery_model.manufacturer)
    passport = BatteryPassport(
        internal_id=internal_id,
        batterypass_id=batterypass_identifier(internal_id),
        battery_model=battery_model,
        battery_identifier=battery_identifier,
        economic_operator=economic_operator,
        data=data or {},
        predecessor=predecessor,
        battery_status=battery_status,
        created_by=user,
    )
    passport.full_clean(exclude=["document", "public_document"])
    _refresh(passport, current_document(passport))
    passport.save()
    return passport


def _locked(passport: BatteryPassport) -> BatteryPassport:
    return (
        BatteryPassport.objects.select_for_update()
        .select_related("battery_model")
        .get(pk=passport.pk)
    )


@transaction.atomic
def passport_update_draft(
    *,
    passport: BatteryPassport,
    data: dict,
    user=None,
    expected_revision: int | None = None,
) -> BatteryPassport:
    locked = _locked(passport)
    if locked.lifecycle != Lifecycle.DRAFT:
        raise Conflict("A published passport is not edited in place: publish a new version.")
    if expected_revision is not None and expected_revision != locked.revision:
        raise Conflict(
            f"The draft changed since you read it (revision {expected_revision}, "
            f"now {locked.revision}); reload and try again."
        )
    errors = schema_errors(data, partial=True)
    if errors:
        raise ValidationError({"data": errors})
    locked.data = data
    _refresh(locked, current_document(locked))
    locked.save()
    return locked


def _validate_for_publication(passport: BatteryPassport, document: dict) -> None:
    missing = missing_mandatory(document, passport.category)
    problems = {}
    if missing:
        problems["missing_attributes"] = [
            f"{a.number}. {a.name} (mandatory for {passport.battery_model.get_category_display()})"
            for a in missing
        ]
    errors = schema_errors(document, category=passport.category)
    if errors:
        problems["schema_errors"] = errors
    if problems:
        raise ValidationError(problems)


def _new_version(
    passport: BatteryPassport, document: dict, user, note: str, kind: str
) -> PassportVersion:
    previous = passport.versions.order_by("-number").first()
    changed = changed_attributes(previous.document if previous else {}, document)
    version = PassportVersion.objects.create(
        passport=passport,
        number=passport.version + 1,
        document=document,
        battery_status=passport.battery_status,
        changed_attributes=changed,
        note=note,
        created_by=user,
    )
    passport.version = version.number
    PassportEvent.objects.create(
        passport=passport, kind=kind, version=version.number, attributes=changed
    )
    return version


@transaction.atomic
def passport_publish(*, passport: BatteryPassport, user=None, note: str = "") -> BatteryPassport:
    locked = _locked(passport)
    if locked.lifecycle == Lifecycle.PUBLISHED:
        raise Conflict("Already published: revise it to publish a new version.")
    document = current_document(locked)
    _validate_for_publication(locked, document)
    locked.lifecycle = Lifecycle.PUBLISHED
    locked.published_at = timezone.now()
    _refresh(locked, document)
    _new_version(locked, document, user, note or "first publication", PassportEvent.Kind.PUBLISHED)
    locked.save()
    return locked


@transaction.atomic
def passport_revise(
    *,
    passport: BatteryPassport,
    data: dict,
    user=None,
    note: str = "",
    expected_version: int | None = None,
    battery_status: str | None = None,
) -> BatteryPassport:
    """Publish a change to a published passport as a new version."""
    locked = _locked(passport)
    if locked.lifecycle != Lifecycle.PUBLISHED:
        raise Conflict("A draft is edited in place; revise only published passports.")
    refuse_closed(locked)
    return _revise(
        locked,
        data=data,
        user=user,
        note=note,
        expected_version=expected_version,
        battery_status=battery_status,
    )


def _revise(
    locked: BatteryPassport,
    *,
    data: dict,
    user,
    note: str,
    expected_version: int | None,
    battery_status: str | None,
) -> BatteryPassport:
    """The revision of a locked, published passport (the closing checks done by the caller:
    repurposing records the hand-over on the original it closes)."""
    if expected_version is not None and expected_version != locked.version:
        raise Conflict(
            f"The passport is at version {locked.version}, not {expected_version}; "
            "reload and try again."
        )
    locked.data = merge(locked.data, data)
    kind = PassportEvent.Kind.VERSION
    if battery_status and battery_status != locked.battery_status:
        locked.battery_status = battery_status
        kind = PassportEvent.Kind.STATUS
    document = current_document(locked)
    _validate_for_publication(locked, document)
    if document == locked.document:
        return locked  # nothing changed: no new version
    _refresh(locked, document)
    _new_version(locked, document, user, note, kind)
    locked.save()
    return locked


def _set_at(document: dict, path: tuple[str, ...], value) -> None:
    """Place a reading: replace the value at the path, or append to the list it names."""
    node = document
    for index, key in enumerate(path):
        last = index == len(path) - 1
        if key == "*":
            raise ValidationError("internal: list paths are handled by the caller")
        if last:
            node[key] = value
        else:
            nxt = path[index + 1]
            if nxt == "*":
                node.setdefault(key, [])
                node[key].append(value)
                return
            node = node.setdefault(key, {})


@transaction.atomic
def append_reading(
    *, passport: BatteryPassport, number: int, value, measured_at: dt.datetime, user=None
) -> DynamicReading:
    """Append a dynamic value (state of charge, cycles, a negative event, ...)."""
    locked = _locked(passport)
    attribute = PassportAttribute.objects.filter(number=number).first()
    if attribute is None:
        raise ValidationError({"attribute": f"Unknown attribute {number}."})
    if not attribute.dynamic:
        raise ValidationError({"attribute": f"{attribute} is static; revise the passport instead."})
    if number not in ATTRIBUTE_PATHS:
        raise ValidationError({"attribute": f"{attribute} has no place in the data model."})
    if number == STATUS_ATTRIBUTE:
        raise ValidationError(
            {
                "attribute": "The battery status changes by a revision "
                "(battery_status), which keeps a version."
            }
        )
    if locked.lifecycle != Lifecycle.PUBLISHED:
        raise Conflict("Dynamic data is recorded once the passport is published.")
    refuse_closed(locked)
    path = ATTRIBUTE_PATHS[number][0]
    document = copy.deepcopy(locked.document)
    _set_at(document, path, value)
    errors = schema_errors(document)
    if errors:
        raise ValidationError({"value": errors})
    # A late reading (measured before the latest one) joins the series without replacing
    # the current value; lists (events) always take it.
    latest = locked.readings.filter(attribute=attribute).order_by("-measured_at").first()
    current = path[-1] == "*" or latest is None or measured_at >= latest.measured_at
    reading = DynamicReading.objects.create(
        passport=locked, attribute=attribute, value=value, measured_at=measured_at, recorded_by=user
    )
    if current:
        # In the passport's own data too, so a later revision keeps it.
        locked.data = copy.deepcopy(locked.data)
        _set_at(locked.data, path, value)
        _refresh(locked, current_document(locked))
        locked.save()
    PassportEvent.objects.create(
        passport=locked,
        kind=PassportEvent.Kind.READING,
        version=locked.version,
        attributes=[number],
    )
    return reading


@transaction.atomic
def passport_repurpose(
    *,
    passport: BatteryPassport,
    new_status: str,
    battery_identifier: str,
    economic_operator,
    data: dict | None = None,
    battery_model: BatteryModel | None = None,
    user=None,
) -> BatteryPassport:
    """A repurposed or remanufactured battery gets a new passport linked to the old one;
    the old passport records the new status in a new version and is closed: responsibility
    moves to the economic operator who places the battery on the market again, on the new
    passport (Regulation (EU) 2023/1542 Art. 77(7)), and the original's operator no longer
    changes the original (`refuse_closed`)."""
    if new_status not in SUCCESSOR_STATUSES:
        raise ValidationError(
            {"battery_status": "Only repurposing or remanufacturing makes a new passport."}
        )
    locked = _locked(passport)
    if locked.lifecycle != Lifecycle.PUBLISHED:
        raise Conflict("Only a published passport can have a successor.")
    if locked.ceased:
        raise Conflict(_ceased_message(locked))
    if hasattr(locked, "successor"):
        raise Conflict(f"{locked} already has a successor passport{_named(locked.successor)}.")
    # The successor starts from what the repurposer may see of the original, no more.
    roles = (
        access.ALL_ROLES
        if user is None
        else access.roles_for(
            access.requester_for(user),
            locked.battery_model.manufacturer_id,
            locked.economic_operator_id,
        )
    )
    seen = access.project(locked.document, roles)
    successor = passport_create(
        battery_model=battery_model or locked.battery_model,
        battery_identifier=battery_identifier,
        economic_operator=economic_operator,
        data=merge(seen, data or {}),
        user=user,
        predecessor=locked,
        battery_status=new_status,
    )
    _revise(
        locked,
        data={},
        user=user,
        battery_status=new_status,
        note=f"{STATUS_LABELS[new_status]}: continued as {successor.internal_id}",
        expected_version=None,
    )
    return successor


# --- End of life (Regulation (EU) 2023/1542 Art. 77(6)-(7)) ----------------------------------


def _ceased_message(passport: BatteryPassport) -> str:
    return (
        f"The passport {passport.internal_id} has ceased: the battery was recycled on "
        f"{passport.recycled_on:%Y-%m-%d} (Art. 77(6)). Its history stays readable; no new "
        "versions, readings or revisions."
    )


def _named(successor: BatteryPassport) -> str:
    """A successor's id for a message, once published: a draft of the new operator's stays
    as unseen as a missing passport."""
    return f" ({successor.internal_id})" if successor.lifecycle == Lifecycle.PUBLISHED else ""


def _sees_status(user, passport: BatteryPassport) -> bool:
    """Whether `user` (None: the system itself) may see the passport's battery status."""
    if user is None:
        return True
    roles = access.roles_for(
        access.requester_for(user),
        passport.battery_model.manufacturer_id,
        passport.economic_operator_id,
    )
    return access.sees_status(roles)


def refuse_closed(passport: BatteryPassport, sees_status: bool = True) -> None:
    """No change to a passport that has ceased (recycled) or was closed by repurposing:
    its own status says repurposed or remanufactured and a successor continues it (its
    economic operator answers for the battery now). A successor named by someone else's
    import does not close it: only repurposing sets that status."""
    if passport.ceased:
        raise Conflict(_ceased_message(passport))
    if passport.battery_status not in SUCCESSOR_STATUSES:
        return
    successor = (
        BatteryPassport.objects.filter(predecessor=passport)
        .only("internal_id", "lifecycle")
        .first()
    )
    if successor is not None and not sees_status:
        # Repurposed or remanufactured is the battery status, attribute 11: not this tier's.
        raise Conflict(f"The passport {passport.internal_id} is closed to changes.")
    if successor is not None:
        raise Conflict(
            f"The passport {passport.internal_id} is closed: the battery was repurposed or "
            f"remanufactured and continues on a successor passport{_named(successor)}, kept "
            "by its new economic operator (Art. 77(7))."
        )


@transaction.atomic
def passport_recycle(
    *,
    passport: BatteryPassport,
    recycled_on: dt.date,
    recycler=None,
    user=None,
) -> BatteryPassport:
    """The battery was recycled: its passport ceases (Regulation (EU) 2023/1542 Art. 77(6):
    "the battery passport shall cease to exist after the battery has been recycled").
    Nothing is deleted: the versions stay readable, and the latest version's credential
    reads as revoked in the status list (credentials.services.flagged). A battery is
    recycled once its status is waste (revise it with battery_status "waste" first)."""
    locked = _locked(passport)
    if locked.lifecycle != Lifecycle.PUBLISHED:
        raise Conflict("A draft was never placed on the market: it is not recycled.")
    if locked.ceased:
        raise Conflict(_ceased_message(locked) + " It is recycled once.")
    sees_status = _sees_status(user, locked)
    refuse_closed(locked, sees_status)
    if locked.battery_status != BatteryStatus.WASTE:
        if sees_status:
            raise Conflict(
                f"The battery status is {STATUS_LABELS[locked.battery_status]!r}: a battery is "
                "recycled once it is waste. Revise the passport with battery_status 'waste' "
                "first."
            )
        # The status is attribute 11: a recycler whose tier may not see it is not told it.
        raise Conflict(
            "The battery status must be 'waste' first: a battery is recycled once it is waste."
        )
    if recycled_on > timezone.localdate():
        raise ValidationError({"recycled_on": "The recycling date is in the future."})
    if locked.published_at and recycled_on < timezone.localdate(locked.published_at):
        raise ValidationError(
            {"recycled_on": "The recycling date is before the passport was published."}
        )
    locked.ceased_at = timezone.now()
    locked.recycled_on = recycled_on
    locked.recycler = recycler
    locked.revision += 1  # the ETag changes: readers see the ceased state
    locked.save(update_fields=["ceased_at", "recycled_on", "recycler", "revision", "updated_at"])
    PassportEvent.objects.create(
        passport=locked, kind=PassportEvent.Kind.CEASED, version=locked.version
    )
    return locked


@transaction.atomic
def passport_import(
    *,
    document: dict,
    battery_model: BatteryModel,
    economic_operator,
    user=None,
    predecessor: BatteryPassport | None = None,
) -> BatteryPassport:
    """A draft passport from a Battery Pass 1.2.0 document; every schema error is listed.
    A predecessor named is locked and must be free: published, not ceased, with no
    successor yet, and the importer one who may repurpose it."""
    if predecessor is not None:
        _free_predecessor(predecessor, user, economic_operator)
    errors = schema_errors(document)
    if errors:
        raise ValidationError({"document": errors})
    general = document["GeneralProductInformation"]
    if general.get("batteryCategory") != battery_model.category:
        raise ValidationError(
            {
                "document": [
                    "GeneralProductInformation/batteryCategory: "
                    f"{general.get('batteryCategory')!r} does not match the battery model's "
                    f"category {battery_model.category!r}"
                ]
            }
        )
    status = {label: value for value, label in STATUS_LABELS.items()}[general["batteryStatus"]]
    data = copy.deepcopy(document)
    imported_id = data["GeneralProductInformation"].pop("batteryPassportIdentifier")
    if BatteryPassport.objects.filter(batterypass_id=imported_id).exists():
        raise Conflict(f"A passport with identifier {imported_id} is already in the registry.")
    passport = passport_create(
        battery_model=battery_model,
        battery_identifier=general["productIdentifier"],
        economic_operator=economic_operator,
        data=data,
        user=user,
        predecessor=predecessor,
        battery_status=status,
    )
    # The registry keeps its own internal id, and the Battery Pass id the document came with.
    passport.batterypass_id = imported_id
    passport.full_clean(exclude=["document", "public_document"])
    try:
        with transaction.atomic():
            passport.save(update_fields=["batterypass_id"])
    except IntegrityError as exc:
        raise Conflict(
            f"A passport with identifier {imported_id} is already in the registry."
        ) from exc
    _refresh(passport, current_document(passport))
    passport.save()
    return passport


def _free_predecessor(predecessor: BatteryPassport, user, economic_operator) -> None:
    locked = _locked(predecessor)  # two imports naming it at once: one after the other
    if user is not None and not can_repurpose(user, locked, economic_operator.pk):
        raise ValidationError(
            {
                "predecessor": "Only the predecessor's manufacturer or operator, or a "
                "second-life operator importing as the new economic operator, may name it."
            }
        )
    if locked.lifecycle != Lifecycle.PUBLISHED:
        raise ValidationError({"predecessor": "Only a published passport can have a successor."})
    if locked.ceased:
        raise Conflict(_ceased_message(locked))
    if hasattr(locked, "successor"):
        raise Conflict(f"{locked} already has a successor passport{_named(locked.successor)}.")


def predecessor_for(requester: Requester, identifier: str) -> BatteryPassport:
    """The predecessor an import names: a passport the importer may see, whose status the
    importer may see too (a successor link reveals it, attribute 11)."""
    predecessor = (
        selectors.visible_passports(requester).filter(selectors.identifier_q(identifier)).first()
    )
    if predecessor is None or not access.sees_status(selectors.roles_for(requester, predecessor)):
        raise ValidationError({"predecessor": f"No passport {identifier!r}."})
    return predecessor


def document_facts(model: BatteryModel) -> tuple:
    """What of a model its passports' documents are merged from (current_document)."""
    return (copy.deepcopy(model.data), model.category)


def model_changed(model: BatteryModel, *, remerge: bool = True, user=None) -> None:
    """A battery model's facts are part of each of its passports' answers (identifier,
    category, chemistry): their revisions move, so ETags and kept answers change too.
    When its data or category changed (`remerge`), the passports' documents are merged
    again by a job after the commit (remerge_model_passports)."""
    BatteryPassport.objects.filter(battery_model=model).update(revision=F("revision") + 1)
    if remerge:
        from config.jobs import enqueue

        from .tasks import remerge_model_passports_task  # tasks import the services

        enqueue(remerge_model_passports_task, model.pk, getattr(user, "pk", None))


REMERGE_BATCH = 200
REMERGE_OUTCOMES = ("drafts", "versions", "unchanged", "frozen", "refused")


def remerge_model_passports(model_id: int, user=None) -> dict[str, int]:
    """Merge a battery model's current data into each of its passports: a draft in place,
    an open published passport as a new version (so readers, the change feed and the
    credentials see it), a ceased or closed one not at all (its history is frozen).
    Idempotent: a passport whose document is already the merged one is left alone. Each
    passport changes in its own transaction, so one refused does not undo the others."""
    counts = dict.fromkeys(REMERGE_OUTCOMES, 0)
    model = BatteryModel.objects.filter(pk=model_id).first()
    if model is None:
        return counts
    note = f"Battery model {model.model_identifier} changed"
    closed = Exists(BatteryPassport.objects.filter(predecessor=OuterRef("pk")))
    last = 0
    while True:
        # Keyset pages: one read per batch decides the passports already up to date.
        batch = list(
            BatteryPassport.objects.filter(battery_model_id=model_id, pk__gt=last)
            .defer("public_document")
            .annotate(has_successor=closed)
            .order_by("pk")[:REMERGE_BATCH]
        )
        for passport in batch:
            passport.battery_model = model
            if _frozen(passport):
                counts["frozen"] += 1
            elif current_document(passport) == passport.document:
                counts["unchanged"] += 1
            else:
                counts[_remerge_one(passport, user, note)] += 1
        if len(batch) < REMERGE_BATCH:
            return counts
        last = batch[-1].pk


def _frozen(passport: BatteryPassport) -> bool:
    """Ceased, or closed by repurposing (refuse_closed): its versions are its history."""
    return passport.lifecycle == Lifecycle.PUBLISHED and (
        passport.ceased
        # has_successor: annotated by the batch's read
        or (
            passport.battery_status in SUCCESSOR_STATUSES
            and getattr(passport, "has_successor", True)
        )
    )


def _remerge_one(passport: BatteryPassport, user, note: str) -> str:
    try:
        with transaction.atomic():
            locked = _locked(passport)  # decided again under the lock: it may have moved
            document = current_document(locked)
            if document == locked.document:
                return "unchanged"
            if locked.lifecycle == Lifecycle.DRAFT:
                _refresh(locked, document)
                locked.save()
                return "drafts"
            try:
                refuse_closed(locked)
            except Conflict:
                return "frozen"
            _revise(
                locked,
                data={},
                user=user,
                note=note,
                expected_version=None,
                battery_status=None,
            )
            return "versions"
    except ValidationError as error:
        logger.warning(
            "Passport %s keeps its document: with its battery model's new data it would "
            "not be valid for publication (%s)",
            passport.internal_id,
            error,
        )
        return "refused"


def check_model_data(data: dict) -> None:
    """Model-level values must fit the Battery Pass schemas (partially: the passports
    complete them)."""
    errors = schema_errors(data, partial=True)
    if errors:
        raise ValidationError({"data": errors})
