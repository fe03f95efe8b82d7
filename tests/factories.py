"""Small builders for synthetic standards next to the reference data."""

from itertools import count

from taxonomy.models import Cell, Standard, StandardCell, StandardLink

_seq = count(1)


def make_standard(cells=(), code=None, **fields) -> Standard:
    n = next(_seq)
    defaults = {
        "code": code or f"test-std-{n}",
        "name": f"Test standard {n}",
        "short_name": f"T{n}",
        "kind": "industry_initiative",
        "jurisdiction": "INT",
        "year": 2020,
        "binding": False,
    }
    defaults.update(fields)
    standard = Standard.objects.create(**defaults)
    for code_ in cells:
        StandardCell.objects.create(standard=standard, cell=Cell.objects.get(code=code_))
    return standard


def link(source, target, kind="incorporates") -> StandardLink:
    return StandardLink.objects.create(source=source, target=target, kind=kind)
