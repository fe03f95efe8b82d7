"""Import jobs: take a file, run it (a dry run or a commit) as a job with progress.

A job's file is kept as hashed evidence (content-addressed, like registry evidence). A job
runs once to the end: a dry run inside a transaction that is always rolled back, a commit
inside one transaction rolled back whole if any row has an error, so a killed worker
leaves nothing half written. Its task is delivered again after a worker dies (acks late):
the job then starts over, up to MAX_ATTEMPTS times, and fails cleanly after that.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePath

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from config.jobs import enqueue
from registry import permissions as perms

from . import kinds, readers
from .context import Context, ImportRefused
from .models import ImportJob

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_ATTEMPTS = 3
MAX_PROBLEMS_KEPT = 2000
Status = ImportJob.Status


def can_import(user) -> bool:
    """Staff and compliance officers (registry.permissions); each row is then written
    under the registry's rules for that record."""
    return perms.can_add_records(user)


def progress_key(job_id: int) -> str:
    return f"intake:progress:{job_id}"


class ProgressWriter:
    """Keeps a running job's progress where every process reads it (web processes,
    workers on other machines): in the job row itself, written through a database
    connection of its own in autocommit, so readers see it while the import's own
    transaction is still open. SQLite takes one writer at a time, and runs embedded (one
    process, tasks run eagerly): there the figures go to the process's cache."""

    EVERY_SECONDS = 1.0  # and whenever the percent changes

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.last: tuple[int, float] = (-1, 0.0)
        main = connections[DEFAULT_DB_ALIAS]
        self.connection = None
        if main.vendor != "sqlite":
            self.connection = type(main)(dict(main.settings_dict), DEFAULT_DB_ALIAS)
        table = ImportJob._meta.db_table
        self.sql = (
            f"UPDATE {table} SET rows_done = %s, rows_total = %s, percent = %s "
            "WHERE id = %s AND status = %s"
        )

    def __call__(self, done: int, total: int | None, percent: int) -> None:
        if self.connection is None:
            cache.set(progress_key(self.job_id), (done, total, percent), 6 * 3600)
            return
        now = time.monotonic()
        if percent == self.last[0] and now - self.last[1] < self.EVERY_SECONDS:
            return
        self.last = (percent, now)
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, [done, total, percent, self.job_id, Status.RUNNING])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def _spool(upload) -> tuple[Path, str, int]:
    """Copy an upload to a temporary file: (path, sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(prefix="intake-", delete=False)  # noqa: SIM115
    with handle:
        upload.seek(0)
        for chunk in (
            upload.chunks()
            if hasattr(upload, "chunks")
            else iter(lambda: upload.read(1 << 20), b"")
        ):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                handle.close()
                Path(handle.name).unlink(missing_ok=True)
                raise ValidationError(
                    {"file": f"The file is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit."}
                )
            digest.update(chunk)
            handle.write(chunk)
    return Path(handle.name), digest.hexdigest(), size


def job_create(
    *, user, upload, kind: str | None = None, dry_run: bool = True, run_later: bool = True
) -> ImportJob:
    """Check the file (type, dangers, kind) and queue its import; raises ValidationError
    naming the problem, PermissionDenied for who may not import."""
    if user is not None and not can_import(user):
        raise PermissionDenied("Only staff and compliance officers may import data.")
    name = PurePath(getattr(upload, "name", "") or "upload").name[:255]
    path, sha256, size = _spool(upload)
    try:
        if size == 0:
            raise ValidationError({"file": "The file is empty."})
        try:
            extension = readers.sniff(path, name)
            if kind:
                found = kinds.get(kind)
                if found is None:
                    known = ", ".join(sorted(kinds.all_kinds()))
                    raise ValidationError({"kind": f"{kind!r} is not a kind ({known})."})
                if extension not in found.extensions:
                    raise ValidationError({"file": f"A {kind} import reads {found.extensions}."})
            else:
                found = kinds.detect(readers.head(path, extension))
                if found is None:
                    raise ValidationError(
                        {
                            "kind": "The file does not say what it holds: name the kind "
                            f"({', '.join(sorted(kinds.all_kinds()))})."
                        }
                    )
        except ImportRefused as exc:
            raise ValidationError({"file": str(exc)}) from exc
        membership = perms.membership_of(user)
        with transaction.atomic():
            job = ImportJob(
                kind=found.code,
                dry_run=dry_run,
                filename=name,
                size=size,
                sha256=sha256,
                requested_by=user if user is not None and user.is_authenticated else None,
                organisation=membership.organisation if membership else None,
            )
            _store(job, path)
            job.save()
            if run_later:
                enqueue_job(job)
        return job
    finally:
        path.unlink(missing_ok=True)


def _store(job: ImportJob, path: Path) -> None:
    # Content-addressed: the same bytes are stored once, whoever sends them.
    stored = f"intake/{job.sha256[:2]}/{job.sha256}"
    if default_storage.exists(stored):
        job.file.name = stored
    else:
        with open(path, "rb") as handle:
            job.file.save(stored, File(handle), save=False)


def enqueue_job(job: ImportJob) -> None:
    from .tasks import run_import_task

    enqueue(run_import_task, job.pk)


def job_commit(*, user, job: ImportJob) -> ImportJob:
    """Commit what a dry run showed: a new job on the same file."""
    if user is not None and not can_import(user):
        raise PermissionDenied("Only staff and compliance officers may import data.")
    if not job.dry_run or job.status != Status.DONE:
        raise ValidationError({"job": "Only a finished dry run can be committed."})
    if job.summary.get("errors"):
        raise ValidationError({"job": "The dry run found errors: correct the file and upload it."})
    with transaction.atomic():
        commit = ImportJob.objects.create(
            kind=job.kind,
            dry_run=False,
            file=job.file.name,
            filename=job.filename,
            size=job.size,
            sha256=job.sha256,
            requested_by=user if user is not None and user.is_authenticated else None,
            organisation=job.organisation,
            dry_run_of=job,
        )
        enqueue_job(commit)
    return commit


def _claim(job_id: int) -> ImportJob | None:
    """Mark the job running (one more attempt); None when it is already over."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (Status.DONE, Status.FAILED):
            return None  # delivered twice: already done
        if job.attempts >= MAX_ATTEMPTS:
            _finish(job, Status.FAILED, error=f"Stopped after {job.attempts} attempts.")
            return None
        job.status = Status.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.rows_done, job.percent = 0, 0
        job.save(update_fields=["status", "attempts", "started_at", "rows_done", "percent"])
        return job


def _finish(job: ImportJob, status: str, *, error: str = "", ctx: Context | None = None):
    job.status = status
    job.error = error[:500]
    job.finished_at = timezone.now()
    if ctx is not None:
        errors = ctx.errors
        rows = sum(t.get("rows", 0) for t in ctx.tables.values())
        job.rows_done = rows
        job.rows_total = rows
        job.percent = 100
        written = status == Status.DONE and not job.dry_run and errors == 0
        job.problems = ctx.problems[:MAX_PROBLEMS_KEPT]
        job.summary = {
            "kind": job.kind,
            "version": ctx.info.get("version"),
            "company": ctx.info.get("company"),
            "tables": ctx.tables,
            "errors": errors,
            "warnings": len(ctx.problems) + sum(ctx.dropped.values()) - errors,
            "problems_not_kept": max(len(ctx.problems) - MAX_PROBLEMS_KEPT, 0)
            + sum(ctx.dropped.values()),
            "dry_run": job.dry_run,
            "written": written,
            **{k: v for k, v in ctx.info.items() if k not in ("version", "company")},
        }
    elif status == Status.FAILED:
        job.summary = {"kind": job.kind, "dry_run": job.dry_run, "written": False, "errors": 1}
        job.problems = [{"severity": "error", "message": error}]
    job.save()
    cache.delete(progress_key(job.pk))


def _local_copy(job: ImportJob) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="intake-", delete=False)  # noqa: SIM115
    with handle, job.file.storage.open(job.file.name, "rb") as source:
        shutil.copyfileobj(source, handle, 1 << 20)
    return Path(handle.name)


def run_job(job_id: int, on_progress: Callable[[int, int | None], None] | None = None):
    """Run a queued job to its end (idempotent: a finished job is left as it is)."""
    job = _claim(job_id)
    if job is None:
        return None
    path = _local_copy(job)
    write = ProgressWriter(job.pk)
    try:
        kind = kinds.get(job.kind)
        if kind is None:
            _finish(job, Status.FAILED, error=f"No import kind {job.kind!r}.")
            return job
        extension = readers.sniff(path, job.filename)
        total = readers.count_rows(path, extension)
        user = job.requested_by

        def progress(done: int, _total: int | None = None) -> None:
            whole = _total or total
            percent = min(int(done * 100 / whole), 99) if whole else 0
            write(done, whole, percent)
            if on_progress:
                on_progress(done, whole)

        ctx = Context(
            path=path,
            extension=extension,
            user=user,
            organisation=job.organisation,
            staff=user is None or user.is_staff,
            dry_run=job.dry_run,
            on_progress=progress,
        )
        with transaction.atomic():
            if job.dry_run:
                kind.check(ctx)
                transaction.set_rollback(True)  # a dry run never writes
            else:
                kind.commit(ctx)
                if ctx.errors:
                    transaction.set_rollback(True)  # all or nothing
        _finish(job, Status.DONE, ctx=ctx)
    except ImportRefused as exc:
        _finish(job, Status.FAILED, error=str(exc))
    except Exception:
        log.exception("import job %s failed", job.pk)
        _finish(
            job,
            Status.FAILED,
            error="The import failed on an unexpected error; nothing was written.",
        )
    finally:
        write.close()
        path.unlink(missing_ok=True)
    return job


def job_progress(job: ImportJob) -> tuple[int, int | None, int]:
    """(rows done, rows in all, percent), live while the job runs: from the job row (see
    ProgressWriter), or on SQLite from the cache of the one process."""
    if job.status == Status.RUNNING:
        live = cache.get(progress_key(job.pk))
        if live:
            return live
    return job.rows_done, job.rows_total, job.percent
