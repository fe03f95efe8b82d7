"""The RMI import kinds (registered in intake.kinds): EMRT, CMRT and AMRT templates, and
RMI's conformant facility list."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict

import openpyxl

from .. import readers
from ..context import Context, Head, ImportRefused
from ..kinds import Kind, register
from ..models import ImportJob
from . import checker, conformant, reader, services

RMI_SHEETS = {"Declaration", "Smelter List", "Smelter Look-up"}


def _template_of(sheets: list[str]) -> str | None:
    names = set(sheets)
    if not names >= RMI_SHEETS:
        return None
    if "Minerals Scope" in names:
        return "AMRT"
    return "EMRT" if "Mine List" in names else "CMRT"


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _job(sha256: str) -> ImportJob | None:
    # The running commit job of this file: its stored copy is the declaration's evidence.
    return (
        ImportJob.objects.filter(sha256=sha256, dry_run=False, status=ImportJob.Status.RUNNING)
        .order_by("-started_at", "-pk")
        .first()
    )


def _read(ctx: Context, template: str) -> reader.Declaration:
    # A file object: openpyxl judges a path by its name (the job's copy has none).
    with open(ctx.path, "rb") as handle:
        try:
            wb = openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # openpyxl raises many types on a broken file
            raise ImportRefused(f"The workbook is corrupt or not a real .xlsx: {exc}.") from exc
        try:
            try:
                found, version, _ = reader.identify(wb)
            except reader.NotATemplate as exc:
                raise ImportRefused(str(exc)) from exc
            if found != template:
                raise ImportRefused(f"This file is an RMI {found}, not a {template}.")
            decl = reader.read(wb, services.lookup_for(found, version))
        finally:
            wb.close()
    ctx.info.update(
        template=decl.template,
        version=decl.version,
        company=decl.company.get("name", ""),
        effective_date=decl.company["effective_date"].isoformat()
        if decl.company.get("effective_date")
        else None,
        minerals=decl.minerals,
        language=decl.language,
    )
    for f in checker.check(decl, services.lookup_for(found, version)):
        ctx.problem(f.message, sheet=f.sheet, cell=f.cell, severity=f.severity)
    ctx.count("smelter", "rows", len(decl.smelters))
    ctx.count("mine", "rows", len(decl.mines))
    ctx.count("product", "rows", len(decl.products))
    ctx.progress(len(decl.smelters) + len(decl.mines), None)
    return decl


def _check(template: str):
    def check(ctx: Context) -> None:
        _read(ctx, template)

    return check


def _commit(template: str):
    def commit(ctx: Context) -> None:
        decl = _read(ctx, template)
        if ctx.errors:
            return
        if ctx.organisation is None:
            raise ImportRefused(
                "A supplier's declaration is kept for the organisation receiving it: "
                "import it as a member of an organisation."
            )
        counts: dict = defaultdict(lambda: defaultdict(int))
        sha = _sha256(ctx.path)
        try:
            record = services.commit_declaration(
                decl, owner=ctx.organisation, sha256=sha, job=_job(sha), counts=counts
            )
        except services.Refused as exc:
            ctx.problem(str(exc), sheet="Declaration", cell="D8")
            return
        ctx.tables.pop("smelter", None)
        ctx.tables.pop("mine", None)
        for table, c in counts.items():
            for what, n in c.items():
                ctx.count(table, what, n)
        ctx.info["declaration"] = record.pk
        ctx.info["supplier"] = record.supplier_id

    return commit


def _detector(template: str):
    def detect(head: Head) -> bool:
        return _template_of(head.sheets) == template

    return detect


for _code, _label in (
    ("EMRT", "RMI Extended Minerals Reporting Template"),
    ("CMRT", "RMI Conflict Minerals Reporting Template"),
    ("AMRT", "RMI Additional Minerals Reporting Template"),
):
    register(
        Kind(
            _code.lower(),
            _label,
            detect=_detector(_code),
            check=_check(_code),
            commit=_commit(_code),
            extensions=("xlsx",),
            extra={"rmi": True},
        )
    )


# --- RMI conformant facility list ---------------------------------------------------


def _list_rows(ctx: Context) -> list[dict]:
    rows = conformant.read_rows(
        readers.iter_rows(ctx.path, ctx.extension),
        lambda message, **kw: ctx.problem(message, **kw),
        services.country_code,
    )
    ctx.count("facility", "rows", len(rows))
    ctx.progress(len(rows), len(rows))
    return rows


def _list_date(sha: str, ctx: Context) -> dt.date | None:
    job = _job(sha) or ImportJob.objects.filter(sha256=sha).order_by("-pk").first()
    return conformant.date_from_name(job.filename if job else ctx.path.name)


def check_list(ctx: Context) -> None:
    _list_rows(ctx)
    sha = _sha256(ctx.path)
    listed_on = _list_date(sha, ctx)
    if listed_on is None:
        ctx.problem(
            "Say the list's date in the file name as RMI's download is dated, e.g. "
            "conformant_facilities_2026-11-30.csv.",
            row=1,
        )
    else:
        ctx.info["listed_on"] = listed_on.isoformat()


def commit_list(ctx: Context) -> None:
    rows = _list_rows(ctx)
    sha = _sha256(ctx.path)
    listed_on = _list_date(sha, ctx)
    if listed_on is None:
        check_list(ctx)
        return
    if ctx.errors:
        return
    job = _job(sha)
    counts: dict = defaultdict(lambda: defaultdict(int))
    clist = services.import_conformant_list(
        rows,
        listed_on=listed_on,
        sha256=sha,
        filename=job.filename if job else "",
        job=job,
        counts=counts,
    )
    ctx.tables.pop("facility", None)
    for table, c in counts.items():
        for what, n in c.items():
            ctx.count(table, what, n)
    ctx.info.update(listed_on=listed_on.isoformat(), conformant_list=clist.pk)


register(
    Kind(
        "rmi_conformant",
        "RMI conformant and active facility list",
        detect=lambda head: conformant.is_conformant_header(head.header),
        check=check_list,
        commit=commit_list,
        extensions=("csv", "xlsx"),
    )
)
