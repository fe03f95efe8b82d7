"""The reference standards file keeps its own rules: every judgement says where it comes from,
uncertain ones say so, one definition of "multi-stakeholder" holds for every instrument, and
the corrections made to disputed judgements stay made.

Reads taxonomy/data/standards.yaml only (yaml.safe_load); no database, nothing outside the
repository.
"""

import re
from pathlib import Path

import pytest
import yaml

from taxonomy.matrix import ALL_CELL_CODES

STANDARDS_PATH = Path(__file__).resolve().parents[1] / "taxonomy" / "data" / "standards.yaml"
RAW = STANDARDS_PATH.read_text(encoding="utf-8")
DOCUMENT = yaml.safe_load(RAW)
ENTRIES = {entry["code"]: entry for entry in DOCUMENT}
HEADER = RAW.split("\n- code:", 1)[0]

NO_CLAUSE = "no clause: "
# "[uncertain: why] judgement" at the start of a basis or a link's note.
UNCERTAIN = re.compile(r"^\[uncertain: (?P<why>[^\]]{10,})\] \S")

IDENTITY = ("code", "name", "short_name", "kind", "jurisdiction", "year", "url", "binding")
NEW_INSTRUMENTS = {
    "ungp",
    "icmm-mining-principles",
    "ifc-ps",
    "asi-ps",
    "responsiblesteel",
    "us-feoc",
}
LAWS_COMPARED = ("eu-csddd", "eu-battery-regulation", "de-lksg", "fr-devoir-vigilance")


def is_uncertain(text: str) -> bool:
    return bool(UNCERTAIN.match(text))


def judgements():
    """Every cell and criterion judgement: (standard code, kind, key, judgement dict)."""
    for entry in DOCUMENT:
        for code, cell in entry["cells"].items():
            yield entry["code"], "cell", code, cell
        for name, criterion in entry["criteria"].items():
            yield entry["code"], "criterion", name, criterion


def test_the_file_is_a_list_of_uniquely_coded_entries():
    assert isinstance(DOCUMENT, list)
    assert len(ENTRIES) == len(DOCUMENT)


def test_every_cell_has_a_clause_or_an_explicit_no_clause_reason_and_a_basis():
    for standard, kind, key, judgement in judgements():
        if kind != "cell":
            continue
        clause = judgement["clause"].strip()
        assert clause, f"{standard} {key}: empty clause; give one or 'no clause: <why>'"
        if clause.startswith(NO_CLAUSE):
            assert len(clause) > len(NO_CLAUSE) + 5, f"{standard} {key}: no reason given"
        assert judgement["basis"].strip(), f"{standard} {key}: no basis"


def test_every_criterion_has_a_value_a_basis_and_sources_to_rest_on():
    assert "Criteria judge the instrument as a whole" in HEADER
    for standard, kind, key, judgement in judgements():
        if kind != "criterion":
            continue
        assert isinstance(judgement["value"], bool), f"{standard} {key}"
        assert judgement["basis"].strip(), f"{standard} {key}: no basis"
    for entry in DOCUMENT:
        assert entry["sources"] and all(s.strip() for s in entry["sources"]), entry["code"]


def test_every_cell_code_is_known():
    known = set(ALL_CELL_CODES)
    for entry in DOCUMENT:
        unknown = set(entry["cells"]) - known
        assert not unknown, f"{entry['code']}: unknown cell codes {sorted(unknown)}"


def test_every_link_target_exists():
    for entry in DOCUMENT:
        for link in entry.get("links", []):
            assert link["target"] in ENTRIES, f"{entry['code']} -> {link['target']}"
            assert link["target"] != entry["code"], entry["code"]
            assert link["kind"] in ("incorporates", "references"), entry["code"]


def test_uncertain_marks_are_well_formed_and_give_a_reason():
    assert '"[uncertain: why] "' in HEADER
    texts = []
    for standard, _, key, judgement in judgements():
        texts += [(standard, key, judgement["basis"]), (standard, key, judgement.get("clause", ""))]
    for entry in DOCUMENT:
        for link in entry.get("links", []):
            texts.append((entry["code"], f"link to {link['target']}", link.get("note", "")))
    marked = 0
    for standard, key, text in texts:
        if "uncertain" in text.lower() and "[uncertain" in text:
            assert is_uncertain(text), f"{standard} {key}: malformed mark {text[:60]!r}"
            marked += 1
    assert marked, "the marking convention is unused"


def test_ira_30d_is_not_third_party_reporting():
    ira = ENTRIES["us-ira-30d"]
    assert "implementation.industry.third_party_reporting" not in ira["cells"]
    assert ira["criteria"]["independently_verified"]["value"] is False
    oversight = ira["cells"]["implementation.government.oversight"]
    assert "not third-party" in oversight["basis"]
    assert any("seller" in source for source in ira["sources"])


def test_rmap_does_not_cover_local_environment():
    rmap = ENTRIES["rmi-rmap"]
    assert "content.local_environment" not in rmap["cells"]
    assert "ESG assessment is separate and optional" in rmap["scope"]["note"]
    assert any("rmap-conformance" in source for source in rmap["sources"])
    # What RMAP does cover stays: the OECD Annex II risks.
    assert {"content.human_rights", "content.violent_conflict", "content.labor_rights"} <= set(
        rmap["cells"]
    )


def test_multi_stakeholder_has_one_definition_for_laws():
    assert "participation mechanisms" in HEADER and "applicable to all relevant parties" in HEADER
    assert "duty" in HEADER and "does not count" in HEADER
    compared = {code: ENTRIES[code]["criteria"]["multi_stakeholder"] for code in LAWS_COMPARED}
    assert {c["value"] for c in compared.values()} == {False}, compared
    for code, criterion in compared.items():
        assert "not a participation mechanism" in criterion["basis"], code
    assert "Omnibus I" in compared["eu-csddd"]["basis"]
    # Under the same definition no law in the file has a standing participation mechanism.
    for entry in DOCUMENT:
        if entry["kind"] == "law_regulation":
            assert entry["criteria"]["multi_stakeholder"]["value"] is False, entry["code"]


def test_disputed_judgements_are_sourced_or_marked_uncertain():
    crma = ENTRIES["eu-crma"]["cells"]
    for code in ("implementation.government.sanctions", "enforcement.legal_sanction"):
        assert crma[code]["clause"].startswith(NO_CLAUSE) and is_uncertain(crma[code]["basis"])
    ciraf_lme = [link for link in ENTRIES["ci-ciraf"]["links"] if link["target"] == "lme-rsr"]
    assert ciraf_lme and all(is_uncertain(link["note"]) for link in ciraf_lme)
    dutch = ENTRIES["nl-child-labour-dd"]["cells"]
    assert is_uncertain(dutch["enforcement.legal_sanction"]["basis"])
    for code, cell in dutch.items():
        if re.match(r"Art\. [45]$", cell["clause"]):
            assert is_uncertain(cell["basis"]), code
    irma = ENTRIES["irma"]
    assert "five" in irma["criteria"]["multi_stakeholder"]["basis"]
    assert is_uncertain(irma["cells"]["participants.investors.equity"]["basis"])
    assert is_uncertain(irma["cells"]["participants.investors.debt"]["basis"])
    assert any("responsiblemining.net/about/governance" in s for s in irma["sources"])
    eiti = ENTRIES["eiti"]
    assert is_uncertain(eiti["cells"]["content.local_environment"]["basis"])
    assert any("6.4" in source for source in eiti["sources"])


@pytest.mark.parametrize("code", sorted(NEW_INSTRUMENTS))
def test_new_instruments_are_present_with_sources(code):
    entry = ENTRIES[code]
    for field in IDENTITY:
        assert entry[field] not in (None, ""), f"{code}: {field}"
    assert entry["summary"].strip() and entry["scope"]["note"].strip()
    assert set(entry["criteria"]) == {
        "widely_accepted",
        "multi_stakeholder",
        "independently_verified",
        "transparent",
    }
    assert len(entry["sources"]) >= 2
    assert any(source.startswith("http") for source in entry["sources"]), code
    cells = entry["cells"]
    for prefix in ("content.", "participants.", "implementation.", "application.", "sponsor."):
        assert any(c.startswith(prefix) for c in cells), f"{code}: no {prefix} cell"
    assert len([c for c in cells if c.startswith("scope.")]) == 1
    linked = entry.get("links", []) or [
        link for other in DOCUMENT for link in other.get("links", []) if link["target"] == code
    ]
    assert linked, f"{code}: neither links nor is linked"


def test_the_guidelines_that_build_on_the_ungps_link_to_them():
    targets = {link["target"] for link in ENTRIES["cccmc-ddg"]["links"]}
    assert "ungp" in targets
    assert {link["target"] for link in ENTRIES["us-feoc"]["links"]} >= {"us-ira-30d", "us-uflpa"}
