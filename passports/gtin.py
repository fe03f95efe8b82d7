"""GTINs (GS1 General Specifications 3.3.2): 8, 12, 13 or 14 digits, the last a check digit;
kept and put in Digital Links as GTIN-14 (zeros in front), the form GS1 Digital Link uses."""

from __future__ import annotations

from django.core.exceptions import ValidationError

LENGTHS = (8, 12, 13, 14)


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
