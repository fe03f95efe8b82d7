"""Converters for `performance` named by the mapping table."""

from __future__ import annotations

from typing import Any

from .convert import BC, TC
from .values import Doc, Inputs, as_dict, dicts, doc, number, sig, timestamp

COMPONENTS = ("cell", "module", "pack")


def _by_component(entries: list[dict], key: str) -> dict[str, dict]:
    """Entries by batteryComponent (pack/module/cell), dropping components listed twice."""
    seen: dict[str, list[dict]] = {}
    for entry in entries:
        component = entry.get("batteryComponent")
        if component in COMPONENTS and number(entry.get(key)) is not None:
            seen.setdefault(component, []).append(entry)
    return {component: found[0] for component, found in seen.items() if len(found) == 1}


def _initial_resistance(inputs: Inputs) -> dict[str, dict]:
    return _by_component(dicts(inputs.at(f"{TC}.initialInternalResistance")), "ohmicResistance")


def _resistance_increase(inputs: Inputs) -> dict[str, dict]:
    entries = dicts(inputs.at(f"{BC}.internalResistanceIncrease"))
    return _by_component(entries, "internalResistanceIncreaseValue")


def rated_resistance(component: str):
    def read(inputs: Inputs, item: Any) -> Any:
        return as_dict(_initial_resistance(inputs).get(component)).get("ohmicResistance")

    return read


def watt(value: Any) -> float | None:
    """kW (the SAMM unit of ratedMaximumPower) -> W."""
    found = number(value)
    return sig(found * 1000) if found is not None else None


def power_at(soc: int):
    """The original power capability at `soc` % SoC, if given once."""

    def read(inputs: Inputs, item: Any) -> Any:
        found = []
        for point in dicts(inputs.at(f"{TC}.originalPowerCapability")):
            value = number(point.get("powerCapabilityAt"))
            if number(point.get("atSoC")) == soc and value is not None:
                found.append(value)
        return found[0] if len(found) == 1 else None

    return read


def _remaining_power(inputs: Inputs) -> dict | None:
    """The remaining power capability at 80 % SoC, or the only one recorded."""
    points = dicts(inputs.at(f"{BC}.remainingPowerCapability"))
    at_80 = [
        point
        for point in points
        if number(as_dict(point.get("remainingPowerCapabilityValue")).get("atSoC")) == 80
    ]
    return at_80[0] if len(at_80) == 1 else points[0] if len(points) == 1 else None


def remaining_power(inputs: Inputs, item: Any) -> Any:
    chosen = _remaining_power(inputs)
    if chosen is None:
        return None
    return number(as_dict(chosen.get("remainingPowerCapabilityValue")).get("powerCapabilityAt"))


def remaining_power_time(inputs: Inputs, item: Any) -> str | None:
    """Also the time of the power fade, which is computed from it."""
    chosen = _remaining_power(inputs)
    if chosen is None:
        return None
    value = as_dict(chosen.get("remainingPowerCapabilityValue"))
    return timestamp(chosen.get("lastUpdate")) or timestamp(value.get("rPCLastUpdated"))


def resistance_increase(component: str):
    def read(inputs: Inputs, item: Any) -> Any:
        entry = _resistance_increase(inputs).get(component)
        return entry["internalResistanceIncreaseValue"] if entry else None

    return read


def resistance_increase_time(component: str):
    def read(inputs: Inputs, item: Any) -> str | None:
        entry = _resistance_increase(inputs).get(component)
        return timestamp(entry.get("lastUpdate")) if entry else None

    return read


def _with_initial(inputs: Inputs, component: str) -> tuple[dict, dict] | None:
    initial = _initial_resistance(inputs).get(component)
    increase = _resistance_increase(inputs).get(component)
    return (initial, increase) if initial and increase else None


def remaining_resistance(component: str):
    """Initial ohmic resistance * (1 + increase / 100) (Annex IV)."""

    def read(inputs: Inputs, item: Any) -> float | None:
        found = _with_initial(inputs, component)
        if found is None:
            return None
        initial, increase = found
        return sig(
            initial["ohmicResistance"] * (1 + increase["internalResistanceIncreaseValue"] / 100)
        )

    return read


def remaining_resistance_time(component: str):
    def read(inputs: Inputs, item: Any) -> str | None:
        found = _with_initial(inputs, component)
        return timestamp(found[1].get("lastUpdate")) if found else None

    return read


def negative_events(inputs: Inputs, item: Any) -> list[Doc] | None:
    events = [
        doc(
            "Text",
            f"Negative event, recorded {timestamp(event.get('lastUpdate')) or 'at unknown time'}",
            event.get("negativeEvent"),
        )
        for event in dicts(inputs.at(f"{BC}.negativeEvents"))
    ]
    return [event for event in events if event] or None
