"""Coverage, inheritance through incorporation, comparison and overlap."""

import pytest

from taxonomy import selectors
from taxonomy.models import Cell, StandardCell

from .factories import link, make_standard

pytestmark = pytest.mark.django_db


def cells(*codes):
    return selectors.resolve_cells(codes)


def test_incorporating_a_standard_inherits_what_it_requires_but_not_what_it_is():
    base = make_standard(
        [
            "content.violent_conflict",
            "implementation.industry.public_reporting",
            "application.mining",
            "enforcement.legal_sanction",
            "sponsor.state_direct",
            "participants.government.national",
        ]
    )
    scheme = make_standard(
        ["content.human_rights", "sponsor.industry_association", "participants.industry.mining"]
    )
    link(scheme, base)
    landscape = selectors.load_landscape()
    covered = landscape.covered(scheme.id)
    assert {
        "content.violent_conflict",
        "implementation.industry.public_reporting",
        "application.mining",
    } <= covered
    assert "enforcement.legal_sanction" not in covered
    assert "sponsor.state_direct" not in covered
    assert "participants.government.national" not in covered
    assert "content.violent_conflict" not in landscape.covered(scheme.id, with_inherited=False)


def test_implementation_is_inherited_only_for_groups_the_standard_itself_covers():
    guidance = make_standard(
        [
            "implementation.government.oversight",
            "implementation.industry.public_reporting",
            "implementation.civil_society.training_partnership",
        ]
    )
    scheme = make_standard(["participants.industry.refining"])
    link(scheme, guidance)
    covered = selectors.load_landscape().covered(scheme.id)
    assert "implementation.industry.public_reporting" in covered
    assert "implementation.government.oversight" not in covered
    assert "implementation.civil_society.training_partnership" not in covered


def test_incorporation_is_transitive_and_survives_a_cycle():
    a = make_standard(["content.human_rights"])
    b = make_standard(["content.labor_rights"])
    c = make_standard(["content.climate_change"])
    link(a, b)
    link(b, c)
    link(c, a)
    landscape = selectors.load_landscape()
    expected = {"content.human_rights", "content.labor_rights", "content.climate_change"}
    for standard in (a, b, c):
        assert landscape.covered(standard.id) == expected


def test_references_do_not_pass_coverage_on():
    a = make_standard(["content.human_rights"])
    b = make_standard(["content.labor_rights"])
    link(a, b, kind="references")
    assert selectors.load_landscape().covered(a.id) == {"content.human_rights"}


def test_rmap_is_shown_covering_oecd_cells_through_incorporation():
    rmap = selectors.resolve_standards(["rmi-rmap"])[0]
    matrix = selectors.standard_matrix(rmap)
    inherited = [
        mc for dim in matrix for group in dim.groups for mc in group.cells if mc.inherited_from
    ]
    own = set(rmap.standard_cells.values_list("cell__code", flat=True))
    for mc in inherited:
        assert mc.cell.code not in own
        assert "oecd-ddg" in [s.code for s in mc.inherited_from]


def test_overlap_of_two_standards_reports_common_cells_and_jaccard():
    a = make_standard(["content.human_rights", "content.labor_rights", "application.mining"])
    b = make_standard(["content.labor_rights", "application.mining", "application.refining"])
    overlap = selectors.standards_overlap(a, b)
    assert overlap.common == ["content.labor_rights", "application.mining"]
    assert overlap.only_a == ["content.human_rights"]
    assert overlap.only_b == ["application.refining"]
    assert overlap.jaccard == 0.5


def test_comparison_lists_for_each_cell_which_standards_cover_it():
    a = make_standard(["content.human_rights"])
    b = make_standard(["content.human_rights", "content.violent_conflict"])
    comparison = selectors.compare_standards([a, b])
    rows = {row.cell.code: row for row in comparison.rows}
    assert len(rows) == Cell.objects.count()
    assert rows["content.human_rights"].covered_by == [a.code, b.code]
    assert rows["content.violent_conflict"].covered_by == [b.code]
    assert rows["content.climate_change"].covered_by == []


def test_standards_covering_child_labour_refining_and_third_party_reporting():
    wanted = cells(
        "content.labor_rights",
        "application.refining",
        "implementation.industry.third_party_reporting",
    )
    matches = selectors.standards_covering(wanted, "all")
    landscape = selectors.load_landscape()
    expected = {
        s.code
        for s in landscape.standards.values()
        if {c.code for c in wanted} <= landscape.covered(s.id)
    }
    assert {m.standard.code for m in matches} == expected
    assert all(not m.missing for m in matches)
    any_matches = selectors.standards_covering(wanted, "any")
    assert len(any_matches) >= len(matches)
    assert any_matches[0].matched == [c.code for c in wanted] or not matches


def test_cells_no_standard_covers_are_the_landscape_gaps():
    code = "participants.investors.debt"
    StandardCell.objects.filter(cell__code=code).delete()
    gaps = {cell.code for cell in selectors.uncovered_cells()}
    assert code in gaps
    covered = set(StandardCell.objects.values_list("cell__code", flat=True))
    assert gaps == set(Cell.objects.values_list("code", flat=True)) - covered


def test_unknown_codes_are_named():
    with pytest.raises(selectors.UnknownCodes, match="content.nope"):
        cells("content.human_rights", "content.nope")
    with pytest.raises(selectors.UnknownCodes, match="no-such-standard"):
        selectors.resolve_standards(["oecd-ddg", "no-such-standard"])
