"""HHI and the shares behind it: one index, one rule of bands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django_countries import countries

from config.errors import InvalidInput, MissingReferenceData

from ..models import Rule


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman index from percentage shares (0 to 10,000)."""
    return round(sum(s * s for s in shares_pct), 1)


@dataclass
class Band:
    rule: str
    label: str  # unconcentrated | moderately concentrated | highly concentrated
    moderate_from: float
    high_above: float
    source: str


def band_for(value: float, rule: Rule) -> Band:
    moderate, high = rule.params["moderate_from"], rule.params["high_above"]
    if value > high:
        label = "highly concentrated"
    elif value >= moderate:
        label = "moderately concentrated"
    else:
        label = "unconcentrated"
    return Band(rule.code, label, moderate, high, rule.source)


def hhi_rule(code: str | None = None) -> Rule:
    rules = Rule.objects.filter(kind=Rule.Kind.HHI_BANDS)
    rule = rules.filter(code=code).first() if code else rules.order_by("code").first()
    if rule is None and code:
        raise InvalidInput(f"Unknown HHI threshold set {code!r}", field="thresholds")
    if rule is None:
        raise MissingReferenceData("No HHI rule loaded")
    return rule


@dataclass
class Share:
    key: str
    label: str
    amount: float
    share_pct: float


@dataclass
class Concentration:
    shares: list[Share]
    hhi: float
    band: Band
    total: float
    note: str = ""

    @property
    def top(self) -> list[Share]:
        return self.shares[:5]


def concentration_of(
    amounts: dict[str, float], labels: dict[str, str], rule: Rule, note: str = ""
) -> Concentration:
    total = sum(amounts.values())
    shares = sorted(
        (
            Share(
                key,
                labels.get(key, key),
                round(amount, 3),
                round(100 * amount / total, 4) if total else 0.0,
            )
            for key, amount in amounts.items()
            if amount > 0
        ),
        key=lambda s: (-s.amount, s.key),
    )
    value = hhi(100 * amount / total for amount in amounts.values()) if total else 0.0
    return Concentration(shares, value, band_for(value, rule), round(total, 3), note)


class ConcentrationInputError(InvalidInput):
    pass


def _country_labels(amounts) -> dict[str, str]:
    return {code: dict(countries).get(code, code) for code in amounts}
