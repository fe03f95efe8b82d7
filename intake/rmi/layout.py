"""Where each template version keeps its inputs (1-based rows). Labels are formulas over
the hidden language sheet, so positions are read, never labels; each version's positions
were checked against its blank (intake/data/rmi)."""

from __future__ import annotations

from dataclasses import dataclass

ANSWERS = ("Yes", "No", "Unknown", "Not declaring")
RESPONSE_RATES = (
    "100%",
    "Greater than 90%",
    "Greater than 75%",
    "Greater than 50%",
    "50% or less",
    "None",
    "Did not survey",
    "Unknown",
)
SCOPES = ("A. Company", "B. Product (or List of Products)", "C. User defined")
CMRT_METALS = ("Tantalum", "Tin", "Gold", "Tungsten")  # the order of the answer rows
EMRT_METALS = ("Cobalt", "Copper", "Graphite", "Lithium", "Mica", "Nickel")
AMRT_METALS = (
    "Aluminum",
    "Iridium",
    "Lime",
    "Manganese",
    "Palladium",
    "Platinum",
    "Rare Earth Elements",
    "Rhodium",
    "Ruthenium",
    "Silver",
    "Soda Ash",
    "Zinc",
)
NOT_LISTED = "smelter not listed"
NOT_IDENTIFIED = "smelter not yet identified"


@dataclass(frozen=True)
class Question:
    code: str  # "1".."8" per mineral, "A".."H" company level
    text: str
    first_row: int  # per-mineral: row of the first mineral; company level: the row
    per_mineral: bool = True
    kind: str = "answer"  # "answer" or "rate" (supplier response rate)


@dataclass(frozen=True)
class Layout:
    template: str  # EMRT, CMRT, AMRT
    company: dict[str, str]  # field -> cell
    mineral_cells: tuple[str, ...]  # scope selector cells (EMRT, AMRT); () for CMRT
    other_offset: int  # AMRT: "Other [specify below]" is named this many rows below
    questions: tuple[Question, ...]
    mineral_slots: int
    has_mine_list: bool
    product_columns: tuple[str, ...]  # columns B.. of the Product List, from row 6
    metals: tuple[str, ...]

    def question(self, code: str) -> Question:
        return next(q for q in self.questions if q.code == code)


def _company(rows: dict[str, int]) -> dict[str, str]:
    return {field: f"D{row}" for field, row in rows.items()}


_EMRT_COMPANY = _company(
    {
        "name": 8,
        "scope": 9,
        "scope_description": 10,
        "unique_id": 16,
        "unique_id_authority": 17,
        "address": 18,
        "contact_name": 19,
        "contact_email": 20,
        "contact_phone": 21,
        "authoriser": 22,
        "authoriser_title": 23,
        "authoriser_email": 24,
        "authoriser_phone": 25,
        "effective_date": 26,
    }
)
_CMRT_COMPANY = _company(
    {
        "name": 8,
        "scope": 9,
        "scope_description": 10,
        "unique_id": 12,
        "unique_id_authority": 13,
        "address": 14,
        "contact_name": 15,
        "contact_email": 16,
        "contact_phone": 17,
        "authoriser": 18,
        "authoriser_title": 19,
        "authoriser_email": 20,
        "authoriser_phone": 21,
        "effective_date": 22,
    }
)
_AMRT_COMPANY = _company(
    {
        "name": 8,
        "scope": 9,
        "scope_description": 10,
        "unique_id": 17,
        "unique_id_authority": 18,
        "address": 19,
        "contact_name": 20,
        "contact_email": 21,
        "contact_phone": 22,
        "authoriser": 23,
        "authoriser_title": 24,
        "authoriser_email": 25,
        "authoriser_phone": 26,
        "effective_date": 27,
    }
)

_EMRT_QUESTIONS = (
    Question("1", "Is the mineral intentionally added or used in the product(s)?", 30),
    Question("2", "Does the mineral remain in the product(s)?", 42),
    Question("3", "Do smelters in your supply chain source it from CAHRAs?", 54),
    Question("4", "Does 100% of it come from recycled or scrap sources?", 66),
    Question("5", "Supplier response rate", 78, kind="rate"),
    Question("6", "Have you identified all smelters supplying it?", 90),
    Question("7", "Has all smelter information received been reported?", 102),
    Question("A", "Responsible minerals sourcing policy established?", 115, False),
    Question("B", "Policy publicly available on your website?", 117, False),
    Question("C", "Direct suppliers required to source from validated smelters?", 120),
    Question("D", "Due diligence measures implemented?", 131, False),
    Question("E", "Supply chain survey of relevant suppliers?", 133, False),
    Question("F", "Suppliers' information reviewed against expectations?", 135, False),
    Question("G", "Review process includes corrective action management?", 137, False),
)
_CMRT_QUESTIONS = (
    Question("1", "Is the metal intentionally added or used in the product(s)?", 26),
    Question("2", "Does the metal remain in the product(s)?", 32),
    Question("3", "Do smelters source it from the covered countries?", 38),
    Question("4", "Do smelters source it from conflict-affected and high-risk areas?", 44),
    Question("5", "Does 100% of it come from recycled or scrap sources?", 50),
    Question("6", "Supplier response rate", 56, kind="rate"),
    Question("7", "Have you identified all smelters supplying it?", 62),
    Question("8", "Has all smelter information received been reported?", 68),
    Question("A", "Responsible minerals sourcing policy established?", 75, False),
    Question("B", "Policy publicly available on your website?", 77, False),
    Question("C", "Direct suppliers required to source from validated smelters?", 79, False),
    Question("D", "Due diligence measures implemented?", 81, False),
    Question("E", "Conflict minerals survey of relevant suppliers?", 83, False),
    Question("F", "Suppliers' information reviewed against expectations?", 85, False),
    Question("G", "Review process includes corrective action management?", 87, False),
    Question("H", "Required to file an annual conflict minerals disclosure?", 89, False),
)
_AMRT_QUESTIONS = (
    Question("1", "Is the mineral intentionally added or used in the product(s)?", 31),
    Question("2", "Supplier response rate", 43, kind="rate"),
)

EMRT = Layout(
    "EMRT",
    _EMRT_COMPANY,
    ("D12", "E12", "G12", "D13", "E13", "G13"),
    0,
    _EMRT_QUESTIONS,
    10,
    True,
    ("number", "name", "requester_number", "requester_name", "comments"),
    EMRT_METALS,
)
EMRT_20 = Layout(**{**EMRT.__dict__, "product_columns": ("number", "name", "comments")})
CMRT = Layout(
    "CMRT",
    _CMRT_COMPANY,
    (),
    0,
    _CMRT_QUESTIONS,
    4,
    False,
    ("number", "name", "comments"),
    CMRT_METALS,
)
AMRT = Layout(
    "AMRT",
    _AMRT_COMPANY,
    ("D12", "E12", "G12", "H12", "I12", "D13", "E13", "G13", "H13", "I13"),
    3,
    _AMRT_QUESTIONS,
    10,
    True,
    ("number", "name", "requester_number", "requester_name", "comments"),
    AMRT_METALS,
)

# (template, revision) -> layout; the versions the importer knows.
LAYOUTS: dict[tuple[str, str], Layout] = {
    ("EMRT", "2.0"): EMRT_20,
    ("EMRT", "2.1"): EMRT,
    ("CMRT", "6.31"): CMRT,
    ("CMRT", "6.4"): CMRT,
    ("CMRT", "6.5"): CMRT,
    ("AMRT", "1.3"): AMRT,
}
BLANKS = {key: f"RMI_{key[0]}_{key[1]}.xlsx" for key in LAYOUTS}

# Smelter List columns (all versions), data from row 5.
SMELTER_COLUMNS = (
    "cid_input",  # A
    "metal",  # B
    "lookup_name",  # C
    "name",  # D
    "country",  # E
    "cid",  # F (a formula; its cached value when Excel saved the file)
    "id_source",  # G
    "street",  # H
    "city",  # I
    "state",  # J
    "contact_name",  # K
    "contact_email",  # L
    "next_steps",  # M
    "mine_names",  # N
    "mine_country",  # O
    "recycled",  # P
    "comments",  # Q
)
MINE_COLUMNS = (
    "metal",  # A
    "smelter_names",  # B
    "name",  # C
    "mine_id",  # D
    "id_source",  # E
    "country",  # F
    "street",  # G
    "city",  # H
    "state",  # I
    "contact_name",  # J
    "contact_email",  # K
    "next_steps",  # L
    "comments",  # M
)
SMELTER_FIRST_ROW = 5
MINE_FIRST_ROW = 5
PRODUCT_FIRST_ROW = 6
