"""The Catena-X BatteryPass 6.1.0 export (passports/catenax/).

- the mapping table holds every leaf of the published 6.1.0 schema exactly once, as mapped, as a
  model extra or as not exported, and nothing else;
- an export holds only leaves the table maps (or fills from model extras);
- the table-driven code exports exactly what the hand-written module it replaced exported, for
  every sample passport, every tier and a corpus of damaged documents;
- the exports validate against the published schema.
"""

import copy
import datetime as dt
import json
import subprocess
import sys
import types
from dataclasses import fields
from pathlib import Path

import pytest

import passports.catenax as cx
from passports import exports, services
from passports.catalogue import ASPECTS, leaf_paths
from passports.catenax.mapping import ROWS
from passports.demo import catenax_extra, sample
from passports.schemas import CATENAX_SCHEMA

from .passport_fixtures import catenax_errors, schema

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ("nmc811_ev_pack", "lfp_stationary_pack", "repurposed_nmc811_pack")

# The last commit in which passports/catenax.py was the hand-written module (before the
# mapping became a table): the regression checks compare the exports with it.
BEFORE_TABLE = "5f505c3945d7d59a98cd27c22d5f76abdf109638"


def get(api, user, url):
    api.force_authenticate(user)
    return api.get(url)


def schema_paths() -> tuple[set[str], set[str]]:
    """(leaves, arrays) of the published Catena-X schema, "*" for array items: walks
    properties and items, follows $ref, and each branch of allOf / oneOf / anyOf."""
    root = json.loads(CATENAX_SCHEMA.read_text(encoding="utf-8"))
    leaves, arrays = set(), set()

    def resolve(node):
        while "$ref" in node:
            target = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def walk(node, path):
        node = resolve(node)
        branches = [b for key in ("allOf", "oneOf", "anyOf") for b in node.get(key, [])]
        for branch in branches:
            walk(branch, path)
        if node.get("properties"):
            for key, child in node["properties"].items():
                walk(child, (*path, key))
        elif node.get("type") == "array":
            arrays.add(".".join(path))
            walk(node["items"], (*path, "*"))
        elif not branches:
            leaves.add(".".join(path))

    walk(root, ())
    return leaves, arrays


def leaf_paths_of(value, path="") -> set[str]:
    """The leaf paths of an export, "*" for array items (an empty list counts as its array)."""
    if isinstance(value, dict):
        return {
            leaf for key, child in value.items() for leaf in leaf_paths_of(child, f"{path}.{key}")
        }
    if isinstance(value, list):
        return {leaf for child in value for leaf in leaf_paths_of(child, f"{path}.*")}
    return {path.lstrip(".")}


def _context(**changes):
    values = {
        "passport_uuid": "urn:uuid:6f1c2c5e-7b1d-4b8e-9a53-0c2a4d1e9f10",
        "predecessor_uuid": None,
        "version": "3",
        "issue_date": dt.date(2025, 6, 30),
        "last_modification": dt.date(2025, 7, 1),
        "economic_operator_id": "529900T8BM49AURSDO55",
        "status": "published",
        "extra": {},
    }
    return cx.CatenaXContext(**{**values, **changes})


def with_heavy_metals(document: dict) -> dict:
    """The sample with lead, cadmium and mercury listed, duplicates and odd rows."""
    document = copy.deepcopy(document)
    composition = document["MaterialComposition"]
    location = {"componentName": "Cathode", "componentId": "C-1"}
    composition["hazardousSubstances"] += [
        {
            "hazardousSubstanceName": "Lead",
            "hazardousSubstanceIdentifier": " 7439-92-1 ",
            "hazardousSubstanceConcentration": 0.01,
            "hazardousSubstanceClass": "AcuteToxicity",
            "hazardousSubstanceImpact": ["Harms the nervous system."],
            "hazardousSubstanceLocation": location,
        },
        {"hazardousSubstanceName": "cadmium", "hazardousSubstanceConcentration": -1},
        {"hazardousSubstanceName": "Solvent X", "hazardousSubstanceIdentifier": "bad-cas"},
        "not an object",
    ]
    composition["batteryMaterials"] += [
        {
            "batteryMaterialName": "Mercury",
            "batteryMaterialIdentifier": "7439-97-6",
            "batteryMaterialMass": 1.5,
            "isCriticalRawMaterial": False,
            "batteryMaterialLocation": location,
        },
        {"batteryMaterialName": "Lead", "batteryMaterialMass": 3, "isCriticalRawMaterial": True},
        {"batteryMaterialName": "Nickel", "batteryMaterialLocation": {"componentName": "Anode"}},
    ]
    document["Circularity"]["recycledContent"].append(
        {"recycledMaterial": "Cobalt", "preConsumerShare": 1, "postConsumerShare": 1}
    )
    technical = document["PerformanceAndDurability"]["batteryTechicalProperties"]
    technical["initialInternalResistance"].append({"batteryComponent": "module"})
    technical["originalPowerCapability"].append({"atSoC": 20, "powerCapabilityAt": 1})
    return document


LEAVES, ARRAYS = schema_paths()
FILLED = {path for path, entry in cx.MAPPING.items() if entry.kind != cx.NOT_EXPORTED}


# --- (a), (b) the table is the schema ----------------------------------------------------


def test_the_schema_has_the_288_leaves_it_is_published_with():
    assert len(LEAVES) == 288


def test_every_schema_leaf_is_in_the_table_exactly_once():
    rows = [path for path, entry in ROWS if not isinstance(entry, cx.Each)]
    assert sorted(LEAVES - set(rows)) == []
    assert sorted(path for path in set(rows) if rows.count(path) > 1) == []
    kinds = {entry.kind for entry in cx.MAPPING.values()}
    assert kinds == {cx.MAPPED, cx.MODEL_EXTRA, cx.NOT_EXPORTED}


def test_the_table_holds_nothing_but_schema_leaves_and_their_arrays():
    assert sorted(set(cx.MAPPING) - LEAVES) == []
    assert sorted(set(cx.ARRAYS) - ARRAYS) == []
    # an array row exactly for each array above a leaf the export fills
    above = {
        ".".join(path.split(".")[:i])
        for path in FILLED
        for i, key in enumerate(path.split("."))
        if key == "*"
    }
    assert set(cx.ARRAYS) == above
    assert len([path for path, entry in ROWS if isinstance(entry, cx.Each)]) == len(cx.ARRAYS)


def battery_pass_paths() -> list[tuple[str, ...]]:
    return [leaf for aspect in ASPECTS for leaf in leaf_paths(schema(aspect), (aspect,))]


def test_every_source_the_table_names_exists():
    """Battery Pass 1.2.0 paths of the shipped schemas, passport facts, declared extras."""
    documented = battery_pass_paths()
    known = {f"context.{f.name}" for f in fields(cx.CatenaXContext)}
    known |= {f"extra.{key}" for key in cx.EXTRA_FIELDS}
    unknown = []
    for path, entry in ROWS:
        for source in getattr(entry, "source", ()):
            parts = tuple(source.split("."))
            if source not in known and not any(leaf[: len(parts)] == parts for leaf in documented):
                unknown.append((path, source))
        extras = (*getattr(entry, "extra", ()), *filter(None, [getattr(entry, "key", None)]))
        unknown += [(path, key) for key in extras if key not in cx.EXTRA_FIELDS]
        if isinstance(entry, cx.NotExported):
            assert len(entry.reason) > 20, path
    assert unknown == []


def test_every_declared_extra_fills_some_leaf():
    used = set()
    for entry in cx.MAPPING.values():
        used |= {*getattr(entry, "extra", ()), getattr(entry, "key", None)}
    assert set(cx.EXTRA_FIELDS) - used == set()


def test_model_extra_leaves_come_from_the_extras_only():
    """Without extras no model-extra leaf is exported; without a document, only model
    extras, passport facts and the leaves extras fill in for the document."""
    document = with_heavy_metals(sample("nmc811_ev_pack"))
    bare = leaf_paths_of(cx.to_catenax(document, _context(extra={})))
    assert {path for path in bare if cx.MAPPING[path].kind == cx.MODEL_EXTRA} == set()
    for name in SAMPLES:
        alone = leaf_paths_of(cx.to_catenax({}, _context(extra=catenax_extra(name))))
        for path in alone:
            entry = cx.MAPPING[path]
            assert (
                entry.kind == cx.MODEL_EXTRA
                or entry.extra
                or all(source.startswith("context.") for source in entry.source)
            ), path


def _values(value, path=()) -> dict[tuple, object]:
    """Leaf values by their concrete path (list indices included)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {path: value}
    return {key: leaf for k, child in items for key, leaf in _values(child, (*path, k)).items()}


def _pattern(path: tuple) -> str:
    return ".".join("*" if isinstance(key, int) else key for key in path)


def test_mapped_leaves_without_declared_extras_ignore_the_extras():
    for name in SAMPLES:
        for document in (sample(name), with_heavy_metals(sample(name))):
            full = _values(cx.to_catenax(document, _context(extra=catenax_extra(name))))
            bare = _values(cx.to_catenax(document, _context(extra={})))
            for values, other in ((full, bare), (bare, full)):
                for path, value in values.items():
                    entry = cx.MAPPING[_pattern(path)]
                    if entry.kind == cx.MAPPED and not entry.extra:
                        assert other.get(path) == value, (name, path)


# --- (c), (e) what the API exports --------------------------------------------------------


def tier_exports(api, world):
    """(sample, tier, export) for every sample passport and every tier."""
    for name in SAMPLES:
        passport = world.passport(name)
        for tier, user in world.users.items():
            response = get(api, user, f"/api/passports/{passport.internal_id}/export/catenax/")
            assert response.status_code == 200, (name, tier)
            data = response.json()
            assert data["metadata"]["passportIdentifier"].endswith(str(passport.uuid))
            yield name, tier, data


@pytest.mark.django_db
def test_exports_hold_only_leaves_the_table_fills(api, world):
    """Every sample, every tier: only mapped or model-extra leaves, nothing not exported and
    nothing unknown; together the samples fill every leaf the table fills."""
    seen = set()
    for name, tier, data in tier_exports(api, world):
        leaves = leaf_paths_of(data)
        assert sorted(leaves - FILLED) == [], (name, tier)
        seen |= leaves
    assert sorted(FILLED - seen) == []


@pytest.mark.django_db
def test_exports_validate_against_the_published_schema(api, world):
    """All required fields for the owner and the Commission, who see everything; types,
    patterns and ranges for every tier."""
    for name, tier, data in tier_exports(api, world):
        errors = catenax_errors(data, strict=tier in ("owner", "commission"))
        assert errors == [], (name, tier, errors[:3])


# --- (d) the exports are the ones the hand-written module produced -------------------------


@pytest.fixture(scope="module")
def before():
    """passports/catenax.py as of BEFORE_TABLE, loaded from git (skipped without the history)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_TABLE}:passports/catenax.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history with commit {BEFORE_TABLE[:8]} is not available")
    module = types.ModuleType("catenax_before_table")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(compile(source, f"{BEFORE_TABLE[:8]}:passports/catenax.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def outcome(to_catenax, document, context):
    """The export, or the kind of exception it raised."""
    try:
        return to_catenax(copy.deepcopy(document), context)
    except (TypeError, ValueError) as error:
        return type(error)


def same_as_before(before, document, context) -> bool:
    old = outcome(lambda d, c: export_before(before, d, c), document, context)
    return outcome(cx.to_catenax, document, context) == old


def export_before(before, document: dict, context) -> dict:
    old_context = before.CatenaXContext(
        **{f.name: copy.deepcopy(getattr(context, f.name)) for f in fields(context)}
    )
    return before.to_catenax(copy.deepcopy(document), old_context)


@pytest.fixture
def spy(monkeypatch):
    """Records the (document, context) of every Catena-X export the API builds."""
    calls = []
    real = cx.to_catenax

    def recording(document, context):
        calls.append((copy.deepcopy(document), copy.deepcopy(context)))
        return real(document, context)

    monkeypatch.setattr(exports, "to_catenax", recording)
    return calls


def sample_passports(world):
    """Each sample published and as a draft, and the repurposed successor of the first."""
    out = []
    for name in SAMPLES:
        out += [(name, world.passport(name)), (f"{name} draft", world.passport(name, False))]
    successor = services.passport_repurpose(
        passport=out[0][1],
        new_status="repurposed",
        battery_identifier="2L-CX",
        economic_operator=world.operator,
    )
    return [*out, ("successor", services.passport_publish(passport=successor))]


@pytest.mark.django_db
def test_every_api_export_is_the_one_the_hand_written_module_gave(api, world, spy, before):
    checked = 0
    for label, passport in sample_passports(world):
        for tier, user in world.users.items():
            response = get(api, user, f"/api/passports/{passport.internal_id}/export/catenax/")
            if response.status_code == 404:  # drafts: the owner only
                assert label.endswith("draft") and tier != "owner"
                continue
            assert response.status_code == 200, (label, tier)
            document, context = spy[-1]
            expected = export_before(before, document, context)
            assert response.json() == expected, (label, tier)
            assert json.dumps(response.json()) == json.dumps(expected), "key order"
            checked += 1
    assert checked == 3 * 5 + 3 + 5


def _nodes(value, path=()):
    """Every path below `value` (keys and list indices)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*path, key)
        yield from _nodes(child, (*path, key))


def _changed(value, path, new):
    """A copy of `value` with the node at `path` replaced by `new` (removed for _GONE)."""
    value = copy.deepcopy(value)
    node = value
    for key in path[:-1]:
        node = node[key]
    if new is _GONE:
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return value


_GONE = object()


def _replacements(value):
    """A removal, and values of the wrong kind or out of range for this node."""
    if isinstance(value, bool):
        return (_GONE, None, "true")
    if isinstance(value, int | float):
        return (_GONE, None, -1.5, str(value), float("nan"))
    if isinstance(value, str):  # a list where text belongs: some reads raise TypeError
        return (_GONE, None, 7, "  ", f" {value} ", [value])
    return (_GONE, "x", [] if isinstance(value, dict) else {})


def damaged(value):
    for path in _nodes(value):
        node = value
        for key in path:
            node = node[key]
        for new in _replacements(node):
            yield path, _changed(value, path, new)


@pytest.mark.parametrize("name", SAMPLES)
def test_damaged_documents_export_as_the_hand_written_module_did(before, name):
    """The sample and every copy of it with one node removed, emptied or of the wrong kind."""
    context = _context(extra=catenax_extra(name))
    document = sample(name)
    assert cx.to_catenax(document, context) == export_before(before, document, context)
    document = with_heavy_metals(document)
    for path, variant in [((), document), *damaged(document)]:
        assert same_as_before(before, variant, context), path


@pytest.mark.parametrize("name", SAMPLES)
def test_damaged_model_extras_export_as_the_hand_written_module_did(before, name):
    document = with_heavy_metals(sample(name))
    extra = catenax_extra(name)
    extra["materials"]["lead"] = {"location": "terminals", "critical": "yes"}
    extra["materials"]["nickel"] = {"location": 12, "critical": "no"}
    for path, variant in [((), extra), *damaged(extra)]:
        for doc in (document, {}):
            context = _context(extra=variant)
            assert same_as_before(before, doc, context), path


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"predecessor_uuid": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"},
        {"predecessor_uuid": "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
        {"economic_operator_id": "bpnl00000007rvtb", "status": "draft", "version": "3.1"},
        {"economic_operator_id": None, "status": "archived", "version": "v7"},
        {"version": None, "issue_date": dt.datetime(2025, 1, 2, 23, 30), "last_modification": "x"},
        {"extra": None},
    ],
)
def test_passport_facts_export_as_the_hand_written_module_did(before, changes):
    for document in (sample("nmc811_ev_pack"), {}, None, []):
        context = _context(**{"extra": catenax_extra(), **changes})
        assert cx.to_catenax(document, context) == export_before(before, document, context)


@pytest.mark.parametrize(
    "changes", [{"passport_uuid": "not-a-uuid"}, {"predecessor_uuid": "{3f2504e0}"}]
)
def test_a_malformed_passport_uuid_is_refused_as_before(before, changes):
    context = _context(**changes)
    with pytest.raises(ValueError):
        export_before(before, {}, context)
    with pytest.raises(ValueError):
        cx.to_catenax({}, context)


def test_the_leaves_the_old_table_listed_are_mapped(before):
    """Its CX_SOURCES listed the leaves with a Battery Pass source (and no code read it)."""
    claimed = {path.replace("[]", ".*") for path in before.CX_SOURCES}
    assert sorted(p for p in claimed if cx.MAPPING[p].kind != cx.MAPPED) == []


def test_the_regression_corpus_fills_every_leaf_the_table_fills():
    seen = set()
    for name in SAMPLES:
        for document in (sample(name), with_heavy_metals(sample(name))):
            seen |= leaf_paths_of(cx.to_catenax(document, _context(extra=catenax_extra(name))))
    assert sorted(FILLED - seen) == []


def test_exports_are_json_text_as_before(before):
    document = with_heavy_metals(sample("nmc811_ev_pack"))
    context = _context(extra=catenax_extra())
    assert json.loads(json.dumps(cx.to_catenax(document, context))) == export_before(
        before, document, context
    )
