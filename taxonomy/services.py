"""Writes to the taxonomy: syncing the matrix, loading the reference standards, and
changes to them proposed by one person and approved by another."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import jsonschema
import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from datasets.tracking import (
    DatasetReport,
    DatasetSync,
    Outcome,
    file_version,
    mark_edited,
    sync_records,
)

from .matrix import ALL_CELL_CODES, EXTRACTION_METHODS, MATRIX, MINERALS
from .models import (
    Cell,
    Dimension,
    LinkKind,
    Mineral,
    ProposalKind,
    ProposalStatus,
    ReferenceProposal,
    Standard,
    StandardCell,
    StandardKind,
    StandardLink,
    StandardStatus,
    StandardStatusChange,
    StandardVersion,
    VersionCell,
)
from .permissions import authorize_decision, authorize_propose

STANDARDS_FILE = Path(__file__).resolve().parent / "data" / "standards.yaml"
TIME_FILE = Path(__file__).resolve().parent / "data" / "instruments_in_time.yaml"
# What names and places a standard: the same keys in the reference file and on the model.
IDENTITY_FIELDS = (
    "name",
    "short_name",
    "kind",
    "jurisdiction",
    "year",
    "url",
    "binding",
    "summary",
)
# A standard's scope beyond its minerals, as the model holds it.
SCOPE_FIELDS = (
    "covers_industrial",
    "covers_artisanal",
    "covers_recycled",
    "countries",
    "cahra",
    "scope_note",
)

_criterion = {
    "type": "object",
    "required": ["value", "basis"],
    "additionalProperties": False,
    "properties": {"value": {"type": "boolean"}, "basis": {"type": "string", "minLength": 1}},
}

STANDARDS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["code", *IDENTITY_FIELDS, "scope", "criteria", "cells", "sources"],
        "properties": {
            "code": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            "name": {"type": "string", "minLength": 1},
            "short_name": {"type": "string", "minLength": 1, "maxLength": 60},
            "kind": {"enum": list(StandardKind.values)},
            "jurisdiction": {"type": "string", "pattern": "^([A-Z]{2}|INT)$"},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
            "url": {"type": "string"},
            "binding": {"type": "boolean"},
            "summary": {"type": "string"},
            "scope": {
                "type": "object",
                "additionalProperties": False,
                "required": ["minerals", "extraction_methods", "countries", "cahra", "note"],
                "properties": {
                    "minerals": {
                        "type": "array",
                        "items": {"enum": [code for code, _ in MINERALS]},
                    },
                    "extraction_methods": {
                        "type": "array",
                        "items": {"enum": [code for code, _ in EXTRACTION_METHODS]},
                    },
                    "countries": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[A-Z]{2}$"},
                    },
                    "cahra": {"type": "boolean"},
                    "note": {"type": "string"},
                },
            },
            "criteria": {
                "type": "object",
                "additionalProperties": False,
                "required": list(Standard.CRITERIA),
                "properties": dict.fromkeys(Standard.CRITERIA, _criterion),
            },
            "cells": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"enum": list(ALL_CELL_CODES)},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["clause", "basis"],
                    "properties": {"clause": {"type": "string"}, "basis": {"type": "string"}},
                },
            },
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["target", "kind"],
                    "properties": {
                        "target": {"type": "string"},
                        "kind": {"enum": list(LinkKind.values)},
                        "note": {"type": "string"},
                    },
                },
            },
            "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
    },
}


class ReferenceDataError(ValueError):
    pass


def validate_standards_document(document) -> None:
    """Reject the whole file, listing every problem, before anything is written."""
    validator = jsonschema.Draft202012Validator(STANDARDS_SCHEMA)
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
    if not problems:
        codes = [entry["code"] for entry in document]
        duplicates = {code for code in codes if codes.count(code) > 1}
        problems += [f"duplicate standard code {code!r}" for code in sorted(duplicates)]
        for entry in document:
            problems += entry_problems(entry, set(codes))
    if problems:
        raise ReferenceDataError("standards reference data is invalid:\n  " + "\n  ".join(problems))


def entry_problems(entry: dict, codes: set[str]) -> list[str]:
    """The rules one standard's cells and links keep beyond the schema (the file's and a
    proposal's alike). `codes`: the standards a link may point to."""
    problems = []
    cells = entry["cells"]
    scope = [c for c in cells if c.startswith("scope.")]
    if len(scope) != 1:
        problems.append(f"{entry['code']}: needs exactly one scope cell, has {scope}")
    if not any(c.startswith("sponsor.") for c in cells):
        problems.append(f"{entry['code']}: needs at least one sponsor cell")
    for link in entry.get("links", []):
        if link["target"] not in codes:
            problems.append(f"{entry['code']}: link to unknown standard {link['target']!r}")
        if link["target"] == entry["code"]:
            problems.append(f"{entry['code']}: links to itself")
    return problems


def _upsert(model, lookup: dict, values: dict):
    """update_or_create that saves only when a value differs, so reloading
    unchanged reference data writes nothing (and adds no history rows)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values), True
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
    return obj, bool(changed)


@dataclass
class LoadReport:
    cells: int
    standards: int
    standard_cells: int
    links: int
    minerals_report: DatasetReport
    standards_report: DatasetReport
    time_report: DatasetReport | None = None

    def lines(self) -> list[str]:
        time = self.time_report.lines() if self.time_report else []
        return [*self.minerals_report.lines(), *self.standards_report.lines(), *time]


@transaction.atomic
def sync_matrix() -> int:
    """Create or update every dimension and cell from `matrix.MATRIX` (code, not data:
    read-only in the admin, so always synced)."""
    order = 0
    for dim_order, dim in enumerate(MATRIX):
        dimension, _ = _upsert(
            Dimension,
            {"code": dim.code},
            {"label": dim.label, "question": dim.question, "order": dim_order},
        )
        for group in dim.groups:
            for cell in group.cells:
                order += 1
                _upsert(
                    Cell,
                    {"code": cell.code},
                    {
                        "dimension": dimension,
                        "group": group.code,
                        "group_label": group.label,
                        "label": cell.label,
                        "description": cell.description,
                        "order": order,
                    },
                )
    return order


def load_minerals() -> DatasetReport:
    """Mineral names are editable in the admin: tracked like every reference dataset."""
    version = file_version(extra=repr(MINERALS))
    current = {m.code: m for m in Mineral.objects.all()}
    return sync_records(
        "taxonomy.minerals",
        version,
        (
            (code, {"name": current[code].name} if code in current else None, {"name": name})
            for code, name in MINERALS
        ),
        lambda code: _upsert(Mineral, {"code": code}, {"name": dict(MINERALS)[code]}),
    )


_STANDARD_FIELDS = (
    *IDENTITY_FIELDS,
    *SCOPE_FIELDS,
    "sources",
    *Standard.CRITERIA,
    *(f"{name}_basis" for name in Standard.CRITERIA),
)


def _standard_values(entry: dict) -> dict:
    """The Standard's own field values as the reference file gives them."""
    scope, criteria = entry["scope"], entry["criteria"]
    methods = set(scope["extraction_methods"])
    values = {
        "name": entry["name"],
        "short_name": entry["short_name"],
        "kind": entry["kind"],
        "jurisdiction": entry["jurisdiction"],
        "year": entry["year"],
        "url": entry["url"],
        "binding": entry["binding"],
        "summary": entry["summary"].strip(),
        "covers_industrial": "industrial" in methods,
        "covers_artisanal": "artisanal" in methods,
        "covers_recycled": "recycled" in methods,
        "countries": scope["countries"],
        "cahra": scope["cahra"],
        "scope_note": scope["note"].strip(),
        "sources": entry["sources"],
    }
    for name in Standard.CRITERIA:
        values[name] = criteria[name]["value"]
        values[f"{name}_basis"] = criteria[name]["basis"].strip()
    return values


def _wanted_state(entry: dict) -> dict:
    values = _standard_values(entry)
    values["countries"] = sorted(values["countries"])
    return {
        "fields": values,
        "minerals": sorted(entry["scope"]["minerals"]),
        "cells": {code: [j["clause"], j["basis"]] for code, j in entry["cells"].items()},
        "links": sorted(
            [link["target"], link["kind"], link.get("note", "")] for link in entry.get("links", [])
        ),
    }


def _current_state(standard: Standard) -> dict:
    values = {name: getattr(standard, name) for name in _STANDARD_FIELDS}
    values["countries"] = sorted(c.code for c in standard.countries)
    return {
        "fields": values,
        "minerals": sorted(m.code for m in standard.minerals.all()),
        "cells": {sc.cell.code: [sc.clause, sc.basis] for sc in standard.standard_cells.all()},
        "links": sorted(
            [link.target.code, link.kind, link.note] for link in standard.links_out.all()
        ),
    }


@transaction.atomic
def load_standards(path: Path = STANDARDS_FILE) -> LoadReport:
    """Load the reference standards per version of the file (datasets.tracking).

    A standard a person edited since it was loaded (fields, cells, minerals or links) is
    left alone, as are standards people added; the report says which and why."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    validate_standards_document(document)
    cell_count = sync_matrix()
    minerals_report = load_minerals()
    cells = {c.code: c for c in Cell.objects.all()}
    minerals = {m.code: m for m in Mineral.objects.all()}
    existing = {
        s.code: s
        for s in Standard.objects.prefetch_related(
            "minerals", "standard_cells__cell", "links_out__target"
        )
    }
    entries = {entry["code"]: entry for entry in document}
    sync = DatasetSync("taxonomy.standards", file_version(path))
    to_write = [
        code
        for code, entry in entries.items()
        if sync.decide(
            code,
            _current_state(existing[code]) if code in existing else None,
            _wanted_state(entry),
        )
        in (Outcome.ADD, Outcome.UPDATE)
    ]
    standards = dict(existing)
    for code in to_write:
        entry = entries[code]
        standard, _ = _upsert(Standard, {"code": code}, _standard_values(entry))
        standard.minerals.set([minerals[m] for m in entry["scope"]["minerals"]])
        standards[code] = standard
        wanted = entry["cells"]
        StandardCell.objects.filter(standard=standard).exclude(cell__code__in=wanted).delete()
        have = {sc.cell.code: sc for sc in standard.standard_cells.select_related("cell")}
        for cell_code, judgement in wanted.items():
            link = have.get(cell_code) or StandardCell(standard=standard, cell=cells[cell_code])
            if link.pk is None or (link.clause, link.basis) != (
                judgement["clause"],
                judgement["basis"],
            ):
                link.clause, link.basis = judgement["clause"], judgement["basis"]
                link.save()
    for code in to_write:
        source = standards[code]
        keep = []
        for link in entries[code].get("links", []):
            target = standards.get(link["target"])
            if target is None:
                continue  # a person deleted the target standard
            obj, _ = _upsert(
                StandardLink,
                {"source": source, "target": target, "kind": link["kind"]},
                {"note": link.get("note", "")},
            )
            keep.append(obj.pk)
        StandardLink.objects.filter(source=source).exclude(pk__in=keep).delete()

    standards_report = sync.finish()
    time_path = Path(path).with_name(TIME_FILE.name)
    time_report = (
        load_instruments_in_time(time_path, entries, standards_path=Path(path))
        if time_path.exists()
        else None
    )
    return LoadReport(
        cells=cell_count,
        standards=len(entries),
        standard_cells=sum(len(e["cells"]) for e in document),
        links=sum(len(e.get("links", [])) for e in document),
        minerals_report=minerals_report,
        standards_report=standards_report,
        time_report=time_report,
    )


# --- The instruments in time (instruments_in_time.yaml) -----------------------

_judgement = {
    "type": "object",
    "additionalProperties": False,
    "required": ["clause", "basis"],
    "properties": {"clause": {"type": "string"}, "basis": {"type": "string"}},
}
_date = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}

TIME_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-z0-9-]+$"},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["date", "status", "source"],
                    "properties": {
                        "date": _date,
                        "status": {"enum": list(StandardStatus.values)},
                        "note": {"type": "string", "maxLength": 500},
                        "source": {"type": "string", "minLength": 1, "maxLength": 500},
                        "uncertain": {"type": "string", "maxLength": 300},
                    },
                },
            },
            "versions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["code", "label", "source"],
                    "properties": {
                        "code": {"type": "string", "pattern": "^[a-z0-9.-]+$", "maxLength": 40},
                        "label": {"type": "string", "minLength": 1, "maxLength": 200},
                        "valid_from": _date,
                        "current": {"type": "boolean"},
                        "note": {"type": "string"},
                        "source": {"type": "string", "minLength": 1, "maxLength": 500},
                        "uncertain": {"type": "string", "maxLength": 300},
                        "cells": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "add": {
                                    "type": "object",
                                    "propertyNames": {"enum": list(ALL_CELL_CODES)},
                                    "additionalProperties": _judgement,
                                },
                                "remove": {
                                    "type": "array",
                                    "items": {"enum": list(ALL_CELL_CODES)},
                                },
                            },
                        },
                        "criteria": {
                            "type": "object",
                            "propertyNames": {"enum": list(Standard.CRITERIA)},
                            "additionalProperties": _criterion,
                        },
                        "links": cast(dict, STANDARDS_SCHEMA)["items"]["properties"]["links"],
                    },
                },
            },
        },
    },
}


def _as_date(value) -> str:
    """YAML reads 2024-07-25 as a date: the schema and the state want the ISO text."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _plain_dates(document):
    for entry in (document or {}).values():
        for change in entry.get("status", []):
            change["date"] = _as_date(change["date"])
        for version in entry.get("versions", []):
            if "valid_from" in version:
                version["valid_from"] = _as_date(version["valid_from"])
    return document or {}


def version_cells(entry_cells: dict, version: dict) -> dict[str, dict]:
    """A non-current version's own cells: the current cells with its differences."""
    diff = version.get("cells", {})
    cells = {code: j for code, j in entry_cells.items() if code not in diff.get("remove", [])}
    cells.update(diff.get("add", {}))
    return cells


def validate_time_document(document, standards: dict[str, dict]) -> None:
    """Reject the file, listing every problem. `standards`: standards.yaml entries by code."""
    validator = jsonschema.Draft202012Validator(TIME_SCHEMA)
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]
    if not problems:
        for code, entry in document.items():
            if code not in standards:
                problems.append(f"{code}: not a standard of standards.yaml")
                continue
            dates = [c["date"] for c in entry.get("status", [])]
            if dates != sorted(dates):
                problems.append(f"{code}: status changes are not in date order")
            versions = entry.get("versions", [])
            if versions and sum(bool(v.get("current")) for v in versions) != 1:
                problems.append(f"{code}: needs exactly one current version")
            starts = [v.get("valid_from") for v in versions]
            if None in starts[1:]:
                problems.append(f"{code}: only the first version may have no valid_from")
            dated = [d for d in starts if d]
            if dated != sorted(dated) or len(set(dated)) != len(dated):
                problems.append(f"{code}: versions are not in strictly increasing date order")
            codes = [v["code"] for v in versions]
            if len(set(codes)) != len(codes):
                problems.append(f"{code}: duplicate version code")
            for version in versions:
                where = f"{code}/{version['code']}"
                if version.get("current") and {"cells", "criteria", "links"} & set(version):
                    problems.append(f"{where}: the current version is standards.yaml's entry")
                    continue
                cells = version_cells(standards[code]["cells"], version)
                if len([c for c in cells if c.startswith("scope.")]) != 1:
                    problems.append(f"{where}: needs exactly one scope cell")
                if not any(c.startswith("sponsor.") for c in cells):
                    problems.append(f"{where}: needs at least one sponsor cell")
                for link in version.get("links", []):
                    if link["target"] not in standards or link["target"] == code:
                        problems.append(f"{where}: bad link target {link['target']!r}")
    if problems:
        raise ReferenceDataError("instruments_in_time data is invalid:\n  " + "\n  ".join(problems))


def _wanted_time_state(code: str, entry: dict, standards: dict[str, dict]) -> dict:
    versions = []
    for version in entry.get("versions", []):
        current = bool(version.get("current"))
        cells = {} if current else version_cells(standards[code]["cells"], version)
        versions.append(
            {
                "code": version["code"],
                "label": version["label"],
                "valid_from": version.get("valid_from"),
                "current": current,
                "note": version.get("note", "").strip(),
                "source": version["source"],
                "uncertain": version.get("uncertain", ""),
                "criteria": version.get("criteria", {}),
                "links": version.get("links"),
                "cells": {c: [j["clause"], j["basis"]] for c, j in sorted(cells.items())},
            }
        )
    return {
        "status": [
            [c["date"], c["status"], c.get("note", ""), c["source"], c.get("uncertain", "")]
            for c in entry.get("status", [])
        ],
        "versions": versions,
    }


def _current_time_state(standard: Standard) -> dict:
    return {
        "status": [
            [c.on.isoformat(), c.status, c.note, c.source, c.uncertain]
            for c in standard.status_changes.all()
        ],
        "versions": [
            {
                "code": v.code,
                "label": v.label,
                "valid_from": v.valid_from.isoformat() if v.valid_from else None,
                "current": v.current,
                "note": v.note,
                "source": v.source,
                "uncertain": v.uncertain,
                "criteria": v.criteria,
                "links": v.links,
                "cells": {
                    vc.cell.code: [vc.clause, vc.basis]
                    for vc in sorted(v.version_cells.all(), key=lambda vc: vc.cell.code)
                },
            }
            for v in standard.versions.all()
        ],
    }


def _write_time_state(standard: Standard, state: dict, cells: dict[str, Cell]) -> None:
    """Replace the standard's status history and versions with the file's (few rows)."""
    StandardStatusChange.objects.filter(standard=standard).delete()
    StandardStatusChange.objects.bulk_create(
        StandardStatusChange(
            standard=standard, on=on, status=status, note=note, source=source, uncertain=unsure
        )
        for on, status, note, source, unsure in state["status"]
    )
    StandardVersion.objects.filter(standard=standard).delete()
    for wanted in state["versions"]:
        fields = {k: v for k, v in wanted.items() if k != "cells"}
        version = StandardVersion.objects.create(standard=standard, **fields)
        VersionCell.objects.bulk_create(
            VersionCell(version=version, cell=cells[code], clause=clause, basis=basis)
            for code, (clause, basis) in wanted["cells"].items()
        )


def load_instruments_in_time(
    path: Path = TIME_FILE, standards: dict | None = None, standards_path: Path = STANDARDS_FILE
) -> DatasetReport:
    """Status histories and versions, per version of both files (datasets.tracking): a
    standard whose history or versions a person edited since they were loaded is left
    alone. Called by `load_standards` after the standards themselves."""
    if standards is None:
        entries = yaml.safe_load(standards_path.read_text(encoding="utf-8"))
        standards = {entry["code"]: entry for entry in entries}
    document = _plain_dates(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    validate_time_document(document, standards)
    cells = {c.code: c for c in Cell.objects.all()}
    existing = {
        s.code: s
        for s in Standard.objects.filter(code__in=list(document)).prefetch_related(
            "status_changes", "versions__version_cells__cell"
        )
    }
    sync = DatasetSync(
        "taxonomy.instruments_in_time", file_version(path, standards_path, extra="v1")
    )
    for code, entry in document.items():
        standard = existing.get(code)
        if standard is None:
            continue  # a person deleted the standard: nothing to hang its history on
        wanted = _wanted_time_state(code, entry, standards)
        current: dict | None = _current_time_state(standard)
        if current is not None and not current["status"] and not current["versions"]:
            current = None  # never loaded (or deleted by a person: the sync tells)
        if sync.decide(code, current, wanted) in (Outcome.ADD, Outcome.UPDATE):
            _write_time_state(standard, wanted, cells)
    return sync.finish()


# --- Curation: proposals, reviewed by a second person -----------------------------------

# Which loaded dataset a kind of change edits: an approved change is a person's edit there.
STANDARDS_DATASET = "taxonomy.standards"
TIME_DATASET = "taxonomy.instruments_in_time"
_STATUS_KINDS = (ProposalKind.STATUS_ADD, ProposalKind.STATUS_REMOVE)


def _object(required: list[str], properties: dict) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _limited(schema: dict, **limits: int) -> dict:
    """A loader schema with the database's length limits (the file leaves some open)."""
    schema = copy.deepcopy(schema)
    for name, limit in limits.items():
        schema["properties"][name]["maxLength"] = limit
    return schema


_cell = {"enum": list(ALL_CELL_CODES)}
_link_item = cast(dict, STANDARDS_SCHEMA)["items"]["properties"]["links"]["items"]
_status_item = cast(dict, TIME_SCHEMA)["additionalProperties"]["properties"]["status"]["items"]

# Each kind of change in the reference files' own terms, checked by the files' schemas.
PROPOSAL_SCHEMAS: dict[str, dict] = {
    ProposalKind.CELL_SET: _limited(
        _object(
            ["cell", "clause", "basis"],
            # A reviewed judgement says why: the basis may not be empty.
            {
                "cell": _cell,
                "clause": {"type": "string"},
                "basis": {"type": "string", "minLength": 1},
            },
        ),
        clause=200,
        basis=500,
    ),
    ProposalKind.CELL_REMOVE: _object(["cell"], {"cell": _cell}),
    ProposalKind.CRITERION: _limited(
        _object(
            ["criterion", "value", "basis"],
            {
                "criterion": {"enum": list(Standard.CRITERIA)},
                **cast(dict, _criterion)["properties"],
            },
        ),
        basis=300,
    ),
    ProposalKind.LINK_SET: _limited(_link_item, note=300),
    ProposalKind.LINK_REMOVE: _object(["target", "kind"], _link_item["properties"]),
    ProposalKind.STATUS_ADD: _status_item,
    ProposalKind.STATUS_REMOVE: _object(
        ["date", "status"], {"date": _date, "status": _status_item["properties"]["status"]}
    ),
}


def _with_detail(standard: Standard) -> Standard:
    return Standard.objects.prefetch_related(
        "minerals", "standard_cells__cell", "links_out__target", "status_changes"
    ).get(pk=standard.pk)


def _proposal_entry(standard: Standard) -> dict:
    """The standard's cells and links as `entry_problems` reads a file entry."""
    state = _current_state(standard)
    return {
        "code": standard.code,
        "cells": dict(state["cells"]),
        "links": [{"target": t, "kind": k, "note": n} for t, k, n in state["links"]],
    }


def proposal_problems(standard: Standard, kind: str, payload) -> list[str]:
    """What is wrong with a change to `standard` as it stands now: the file's schema and
    rules, and a change that changes nothing or removes what is not there."""
    if kind not in PROPOSAL_SCHEMAS:
        return [f"{kind!r} is not a kind of change"]
    validator = jsonschema.Draft202012Validator(PROPOSAL_SCHEMAS[kind])
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or 'change'}: {error.message}"
        for error in validator.iter_errors(payload)
    ]
    if problems:
        return problems
    standard = _with_detail(standard)
    before = _proposal_entry(standard)
    after = copy.deepcopy(before)
    cells, links = after["cells"], {(x["target"], x["kind"]): x for x in after["links"]}
    p = payload
    if kind in (ProposalKind.CELL_SET, ProposalKind.CRITERION) and not p["basis"].strip():
        problems.append("basis: say why (not only spaces)")
    if kind == ProposalKind.CELL_SET:
        if cells.get(p["cell"]) == [p["clause"], p["basis"]]:
            problems.append(f"{p['cell']}: already has this clause and basis")
        cells[p["cell"]] = [p["clause"], p["basis"]]
    elif kind == ProposalKind.CELL_REMOVE:
        if cells.pop(p["cell"], None) is None:
            problems.append(f"{p['cell']}: the standard does not cover it")
    elif kind == ProposalKind.CRITERION:
        name = p["criterion"]
        now = (getattr(standard, name), getattr(standard, f"{name}_basis"))
        if now == (p["value"], p["basis"].strip()):
            problems.append(f"{name}: already has this value and basis")
    elif kind == ProposalKind.LINK_SET:
        key = (p["target"], p["kind"])
        if key in links and links[key]["note"] == p.get("note", ""):
            problems.append(f"{p['kind']} {p['target']}: already linked with this note")
        links[key] = {"target": p["target"], "kind": p["kind"], "note": p.get("note", "")}
    elif kind == ProposalKind.LINK_REMOVE:
        if links.pop((p["target"], p["kind"]), None) is None:
            problems.append(f"{p['kind']} {p['target']}: no such link")
    else:
        try:
            on = dt.date.fromisoformat(p["date"])
        except ValueError:
            return [f"date: {p['date']!r} is not a date"]
        exists = standard.status_changes.filter(on=on, status=p["status"]).exists()
        if kind == ProposalKind.STATUS_ADD and exists:
            problems.append(f"{p['status']} from {p['date']}: already recorded")
        if kind == ProposalKind.STATUS_REMOVE and not exists:
            problems.append(f"{p['status']} from {p['date']}: no such status change")
    after["links"] = list(links.values())
    # The file's rules, as far as this change breaks them (a hand-made standard may
    # already break one: that does not block an unrelated change).
    codes = set(Standard.objects.values_list("code", flat=True))
    already = set(entry_problems(before, codes))
    problems += [x for x in entry_problems(after, codes) if x not in already]
    return problems


def _tagged(obj, user, why: str):
    """Who and why on the history row the save or delete writes (django-simple-history)."""
    obj._history_user = user
    obj._change_reason = why[:100]  # the history's change_reason column holds 100
    return obj


def propose(
    user, standard: Standard, kind: str, payload: dict, source: str, reason: str
) -> ReferenceProposal:
    """Record a proposed change; nothing in the reference data changes until approval."""
    authorize_propose(user)
    source, reason = (source or "").strip(), (reason or "").strip()
    if kind == ProposalKind.STATUS_ADD and isinstance(payload, dict) and "source" not in payload:
        payload = {**payload, "source": source}  # a status change cites the proposal's source
    problems = [] if source else ["source: say where the change comes from"]
    problems += [] if reason else ["reason: say why the change is right"]
    if len(source) > 500:
        problems.append("source: at most 500 characters")
    problems += proposal_problems(standard, kind, payload)
    if problems:
        raise ValidationError(problems)
    proposal = ReferenceProposal(
        standard=standard,
        kind=kind,
        payload=payload,
        source=source,
        reason=reason,
        proposed_by=user,
    )
    _tagged(proposal, user, "proposed").save()
    return proposal


def _locked_undecided(user, proposal_id: int) -> ReferenceProposal:
    proposal = (
        ReferenceProposal.objects.select_for_update()
        .select_related("standard", "proposed_by")
        .get(pk=proposal_id)
    )
    authorize_decision(user, proposal)
    if proposal.status != ProposalStatus.PROPOSED:
        raise ValidationError(f"Proposal #{proposal.pk} was already {proposal.status}.")
    return proposal


def _apply(proposal: ReferenceProposal, user) -> None:
    standard, p = proposal.standard, proposal.payload
    why = f"proposal #{proposal.pk}: {proposal.reason}"
    kind = proposal.kind
    if kind == ProposalKind.CELL_SET:
        judgement = StandardCell.objects.filter(
            standard=standard, cell__code=p["cell"]
        ).first() or StandardCell(standard=standard, cell=Cell.objects.get(code=p["cell"]))
        judgement.clause, judgement.basis = p["clause"], p["basis"]
        _tagged(judgement, user, why).save()
    elif kind == ProposalKind.CELL_REMOVE:
        judgement = StandardCell.objects.get(standard=standard, cell__code=p["cell"])
        _tagged(judgement, user, why).delete()
    elif kind == ProposalKind.CRITERION:
        name = p["criterion"]
        setattr(standard, name, p["value"])
        setattr(standard, f"{name}_basis", p["basis"].strip())
        _tagged(standard, user, why).save(update_fields=[name, f"{name}_basis"])
    elif kind == ProposalKind.LINK_SET:
        link = StandardLink.objects.filter(
            source=standard, target__code=p["target"], kind=p["kind"]
        ).first() or StandardLink(
            source=standard, target=Standard.objects.get(code=p["target"]), kind=p["kind"]
        )
        link.note = p.get("note", "")
        _tagged(link, user, why).save()
    elif kind == ProposalKind.LINK_REMOVE:
        link = StandardLink.objects.get(source=standard, target__code=p["target"], kind=p["kind"])
        _tagged(link, user, why).delete()
    elif kind == ProposalKind.STATUS_ADD:
        change = StandardStatusChange(
            standard=standard,
            on=dt.date.fromisoformat(p["date"]),
            status=p["status"],
            note=p.get("note", ""),
            source=p["source"],
            uncertain=p.get("uncertain", ""),
        )
        _tagged(change, user, why).save()
    else:
        removed = StandardStatusChange.objects.get(
            standard=standard, on=p["date"], status=p["status"]
        )
        _tagged(removed, user, why).delete()
    # Count it as a person's edit, so no reload of the file undoes it (datasets.tracking).
    mark_edited(TIME_DATASET if kind in _STATUS_KINDS else STANDARDS_DATASET, standard.code)


@transaction.atomic
def approve(user, proposal_id: int, note: str = "") -> ReferenceProposal:
    """A second person approves: the change applies in this transaction, with the
    proposal, or not at all (it is checked again against the standard as it is now)."""
    proposal = _locked_undecided(user, proposal_id)
    # One decision at a time per standard: the rules are checked on what is there now.
    Standard.objects.select_for_update().filter(pk=proposal.standard_id).first()
    problems = proposal_problems(proposal.standard, proposal.kind, proposal.payload)
    if problems:
        raise ValidationError(
            [f"Proposal #{proposal.pk} no longer applies to the standard as it is:", *problems]
        )
    _apply(proposal, user)
    proposal.status = ProposalStatus.APPROVED
    proposal.reviewed_by, proposal.reviewed_at = user, timezone.now()
    proposal.review_note = (note or "").strip()
    _tagged(proposal, user, "approved").save()
    return proposal


@transaction.atomic
def reject(user, proposal_id: int, note: str) -> ReferenceProposal:
    """A second person rejects, saying why; the reference data is left as it is."""
    proposal = _locked_undecided(user, proposal_id)
    note = (note or "").strip()
    if not note:
        raise ValidationError("Say why the proposal is rejected.")
    proposal.status = ProposalStatus.REJECTED
    proposal.reviewed_by, proposal.reviewed_at = user, timezone.now()
    proposal.review_note = note
    _tagged(proposal, user, "rejected").save()
    return proposal
