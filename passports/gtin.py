"""GTINs (GS1 General Specifications 3.3.2): 8, 12, 13 or 14 digits, the last a check digit;
kept and put in Digital Links as GTIN-14 (zeros in front), the form GS1 Digital Link uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

LENGTHS = (8, 12, 13, 14)
CONSTRAINT = "uniq_battery_model_gtin"  # BatteryModel.Meta


def check_digit(digits: str) -> int:
    """The GS1 check digit of the digits before it: weights 3, 1, 3, ... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def normalise(value: str) -> str:
    """`value` as GTIN-14, or ValidationError naming what is wrong."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) not in LENGTHS:
        raise ValidationError(
            f"A GTIN is 8, 12, 13 or 14 digits; {value[:20]!r} is not.", code="gtin_format"
        )
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise ValidationError(
            f"GTIN {value} has a wrong check digit: {value[-1]}, expected {expected}.",
            code="gtin_check_digit",
        )
    return value.zfill(14)


def validate_gtin(value: str) -> None:
    if value:
        normalise(value)


def free_gtin(value: str, battery_model=None) -> str:
    """`value` as GTIN-14 when no other battery model has it (a GTIN names one trade item),
    else ValidationError naming the model that has it."""
    from .models import BatteryModel  # models import this module

    if not value:
        return ""
    gtin = normalise(value)
    others = BatteryModel.objects.filter(gtin=gtin)
    if battery_model is not None and battery_model.pk is not None:
        others = others.exclude(pk=battery_model.pk)
    other = others.values_list("model_identifier", flat=True).first()
    if other is not None:
        raise ValidationError(
            f"GTIN {gtin} is already the GTIN of battery model {other}.", code="gtin_taken"
        )
    return gtin


def is_taken_error(error: IntegrityError) -> bool:
    """Whether a refused write broke the one-model-per-GTIN constraint, and no other."""
    diag = getattr(error.__cause__, "diag", None)  # psycopg names the constraint
    if diag is not None:
        return diag.constraint_name == CONSTRAINT
    return "passports_batterymodel.gtin" in str(error)  # SQLite names the column


@contextmanager
def claiming(value: str, battery_model=None) -> Iterator[None]:
    """The write that gives a battery model the GTIN `value`, in a savepoint: another
    model that took it since `free_gtin` looked (two claims at once) gets the same
    ValidationError, on the field, and the caller's transaction goes on."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        if not value or not is_taken_error(error):
            raise
        try:
            free_gtin(value, battery_model)  # names the model that has it
        except ValidationError as taken:
            raise ValidationError({"gtin": taken.messages}) from error
        raise ValidationError(
            {"gtin": [f"GTIN {normalise(value)} is already the GTIN of another battery model."]}
        ) from error
