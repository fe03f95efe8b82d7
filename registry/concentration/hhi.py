"""HHI and the shares behind it: one index, one rule of bands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django_countries import countries

from config.errors import InvalidInput, MissingReferenceData

from ..models import Rule


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman index from percentage shares (0 to 10,000)."""
    return float(round(sum(s * s for s in shares_pct), 1))


@dataclass
class Band:
    rule: str
    # unconcentrated | moderately concentrated | highly concentrated | undetermined
    # (undetermined: a range of HHI whose ends fall in different bands)
    label: str
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


def band_for_range(low: float, high: float, rule: Rule) -> Band:
    """The band when only bounds are known: certain if both ends share it."""
    low_band, high_band = band_for(low, rule), band_for(high, rule)
    if low_band.label == high_band.label:
        return low_band
    return Band(rule.code, "undetermined", low_band.moderate_from, low_band.high_above, rule.source)


@dataclass(slots=True)  # slots: thousands per trace (companies' shares)
class Share:
    key: str
    label: str
    amount: float
    share_pct: float
    country: str = ""  # a company's country (site or head office), when asked


@dataclass
class Concentration:
    shares: list[Share]
    hhi: float | None  # None when only bounds can be given (hhi_low, hhi_high)
    band: Band
    total: float
    note: str = ""
    convention: dict = field(default_factory=dict)
    coverage_pct: float | None = None  # share of the world total the listed rows cover
    low_coverage: bool = False
    hhi_low: float | None = None  # the fringe spread into vanishingly small producers
    hhi_high: float | None = None  # the fringe as one producer
    source: str = ""
    unit: str = ""

    @property
    def top(self) -> list[Share]:
        return self.shares[:5]


def concentration_of(
    amounts: dict[str, float], labels: dict[str, str], rule: Rule, note: str = ""
) -> Concentration:
    total = sum(amounts.values())
    # Largest (as shown, rounded) first, then by key: sorted as tuples, in C.
    positive = ((key, amount) for key, amount in amounts.items() if amount > 0)
    order = sorted((-round(amount, 3), key, amount) for key, amount in positive)
    shares = [
        Share(key, labels.get(key, key), -shown, round(100 * amount / total, 4) if total else 0.0)
        for shown, key, amount in order
    ]
    value = hhi(100 * amount / total for amount in amounts.values()) if total else 0.0
    return Concentration(shares, value, band_for(value, rule), round(total, 3), note)


class ConcentrationInputError(InvalidInput):
    pass


def _country_labels(amounts) -> dict[str, str]:
    # countries.name per code: dict(countries) sorts every country's name, each call.
    return {code: countries.name(code) or code for code in amounts}
