"""Kept results: population computations computed by a job, kept, and served from there.

The sector search's figures, a buyer's supply-chain trace and the concentration page's
flow views read tens of thousands of rows. Where the population is small (below
`KEPT_RESULT_INLINE_BELOW` companies) they are computed inline, as before. Above it, the
answer comes from a `KeptResult` (and once one is kept, the population is not counted):

- keyed by kind, normalised parameters (dates resolved: "today" is a date in the key)
  and the requester's visibility scope ("public", "org:<id>", "staff"), because an
  answer counts only the attestations its scope may see: one scope's result is never
  served to another, so no private attestation leaks through a kept result;
- fresh while its `generation` equals the current input generation, which database
  triggers bump in the writing transaction (migration 0009): it works across processes
  and for queryset updates and bulk writes (`expire_attestations`), at no query cost;
- when stale, served all the same, marked stale with its time, while one refresh job
  runs; when there is none yet, the caller gets `NotReady` (the API answers 202 with
  Retry-After). A conditional UPDATE claims the refresh, so a burst enqueues one job;
  a claim older than `KEPT_RESULT_JOB_TIMEOUT` seconds may be taken again (a lost job).

The job (`registry.tasks.refresh_kept_result_task`) reads the generation before it
computes and stores the answer under that generation: if inputs change meanwhile, the
answer is already stale and the next request refreshes it. It never overwrites an answer
computed from a later generation, so it is idempotent and safe to run twice at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from config import db_router
from config.errors import DomainError
from config.jobs import enqueue

from .models import InputGeneration, KeptResult, KeptResultChunk
from .querysets import Requester

GENERATION = "inputs"

# kind -> "module.function(params, requester) -> (summary dict, list of rows)": the list
# (companies lacking coverage, flows) is kept in chunks and served a page at a time.
KINDS = {
    "sector_gaps": "registry.selectors.sector_figures_payload",
    "supply_chain": "registry.supply.supply_chain_payload",
    "concentration": "registry.concentration.chain.concentration_page_payload",
    "mine_to_refinery": "registry.concentration.chain.mine_to_refinery_payload",
    "company_grades": "registry.selectors.company_grades_payload",
}

# kind -> "module.function(result, generation, rows)": rows kept in a table of their own
# (instead of chunks), so a list can filter by them in SQL. Called under the result's lock.
TABLES = {
    "company_grades": "registry.selectors.keep_company_grades",
}


class NotReady(DomainError):
    """No kept answer yet: a job is computing it (the API: 202 with Retry-After)."""

    status = 202
    code = "being_computed"

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            f"This answer covers a large population and is being computed; "
            f"ask again in about {retry_after} seconds."
        )


CHUNK = 100  # rows per stored chunk; a page of up to 200 rows reads at most 3 of them


@dataclass
class Served:
    payload: dict  # the summary: figures, shares, rule results
    rows: list  # the asked page of the answer's list
    row_count: int  # rows in the whole list
    computed_at: dt.datetime
    stale: bool  # computed before the latest change of its inputs; a refresh is under way
    kept: bool  # from a kept result (False: computed inline for this request)
    result_id: int | None = None  # the kept result and the generation its rows are of
    generation: int | None = None


def scope_of(requester: Requester) -> str:
    """What the requester may see decides the answer: staff see every attestation, an
    organisation's users see the same, everyone else sees the public ones."""
    if requester.sees_everything:
        return "staff"
    if requester.organisation_id:
        return f"org:{requester.organisation_id}"
    return "public"


def requester_for(scope: str) -> Requester:
    """A requester that sees exactly what `scope` sees (for the job)."""
    if scope == "staff":
        return Requester.everyone()
    if scope.startswith("org:"):
        return Requester(organisation_id=int(scope.removeprefix("org:")))
    return Requester.anonymous()


def normalise(params: dict) -> dict:
    return json.loads(json.dumps(params, sort_keys=True, cls=DjangoJSONEncoder))


def params_key(params: dict) -> str:
    text = json.dumps(normalise(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def current_generation() -> int:
    value = InputGeneration.objects.filter(name=GENERATION).values_list("value", flat=True).first()
    return value or 0


def compute(kind: str, params: dict, requester: Requester) -> tuple[dict, list]:
    """(summary, rows) of one computation, as plain JSON values."""
    summary, rows = import_string(KINDS[kind])(normalise(params), requester)
    return normalise(summary), normalise(list(rows))


def compute_page(kind: str, params: dict, requester: Requester, rows: slice):
    """(summary, the `rows` slice, how many rows) of one computation: only the slice is
    written out (a trace's rows are built when read: thousands for one page of 50)."""
    summary, all_rows = import_string(KINDS[kind])(normalise(params), requester)
    return normalise(summary), normalise(list(all_rows[rows])), len(all_rows)


def _claim(row: KeptResult | None, kind: str, key: str, scope: str, params, generation) -> bool:
    """Whether this request is the one to enqueue the refresh (one per burst)."""
    now = timezone.now()
    if row is None:
        try:
            with transaction.atomic():
                KeptResult.objects.create(
                    kind=kind,
                    params=key,
                    scope=scope,
                    params_json=params,
                    requested_generation=generation,
                    requested_at=now,
                )
            return True
        except IntegrityError:  # another request created it a moment ago
            return False
    lost = now - dt.timedelta(seconds=settings.KEPT_RESULT_JOB_TIMEOUT)
    return bool(
        KeptResult.objects.filter(pk=row.pk)
        .filter(
            Q(requested_generation__isnull=True)
            | Q(requested_generation__lt=generation)
            | Q(requested_at__lt=lost)
        )
        .update(requested_generation=generation, requested_at=now)
    )


def serve(
    kind: str,
    params: dict,
    requester: Requester,
    population: Callable[[], int],
    rows: slice = slice(0, 50),
    inline_below: int | None = None,
) -> Served:
    """The answer for `params` as `requester` may see it, with the `rows` slice of its
    list: inline for a small population, else from the kept result (fresh, or stale while
    it is refreshed); `NotReady` while the first one is computed. A fixed handful of
    queries whatever the population: the result, the population (only when none is
    kept), the generation, the result's chunks (and, to refresh, a claim). `inline_below`
    lowers the population computed inline, for a dearer answer."""
    params = normalise(params)
    scope, key = scope_of(requester), params_key(params)
    results = KeptResult.objects.filter(kind=kind, params=key, scope=scope)
    row = results.first()
    # Only a large population is ever kept: with a kept result, no need to count it (a
    # trace's count walks every upstream company, the dearest query of the answer).
    inline = settings.KEPT_RESULT_INLINE_BELOW
    if inline_below is not None:
        inline = min(inline, inline_below)
    if row is None and population() < inline:
        summary, page, count = compute_page(kind, params, requester, rows)
        return Served(summary, page, count, timezone.now(), False, False)
    generation = current_generation()
    if row is not None and row.payload is not None and row.generation == generation:
        return _served(row, rows, stale=False)
    if _claim(row, kind, key, scope, params, generation):
        from .tasks import refresh_kept_result_task  # tasks import the services

        enqueue(refresh_kept_result_task, kind, params, scope)
        # Without a broker the job ran at the commit, just now: serve what it kept.
        if settings.CELERY_TASK_ALWAYS_EAGER and transaction.get_autocommit():
            row = results.first()
            if row is not None and row.payload is not None and row.generation == generation:
                return _served(row, rows, stale=False)
    if row is not None and row.payload is not None:
        return _served(row, rows, stale=True)
    raise NotReady(settings.KEPT_RESULT_RETRY_AFTER)


def _served(result: KeptResult, rows: slice, *, stale: bool) -> Served:
    start, stop = rows.start or 0, min(rows.stop or 0, result.row_count)
    page: list = []
    if stop > start:
        chunks = KeptResultChunk.objects.filter(
            result=result,
            generation=result.generation,
            number__gte=start // CHUNK,
            number__lte=(stop - 1) // CHUNK,
        ).order_by("number")
        for chunk in chunks:
            page += chunk.rows
        offset = (start // CHUNK) * CHUNK
        page = page[start - offset : stop - offset]
    return Served(
        result.payload,
        page,
        result.row_count,
        result.computed_at,
        stale,
        True,
        result.pk,
        result.generation,
    )


def refresh(kind: str, params: dict, scope: str) -> int:
    """Compute and keep one answer (the job's body); returns the generation it is of."""
    params = normalise(params)
    # On the primary: a replica behind it could label old data with a newer generation.
    with db_router.scope(pinned=True):
        generation = current_generation()
        summary, rows = compute(kind, params, requester_for(scope))
    key = params_key(params)
    try:
        with transaction.atomic():
            KeptResult.objects.get_or_create(
                kind=kind, params=key, scope=scope, defaults={"params_json": params}
            )
    except IntegrityError:
        pass
    results = KeptResult.objects.filter(kind=kind, params=key, scope=scope)
    with transaction.atomic():
        # The UPDATE locks the row: two jobs at once replace the chunks one after the other.
        updated = results.filter(Q(generation__isnull=True) | Q(generation__lte=generation)).update(
            payload=summary,
            computed_at=timezone.now(),
            generation=generation,
            row_count=len(rows),
        )
        if updated:
            result = results.get()
            KeptResultChunk.objects.filter(result=result).delete()
            if kind in TABLES:
                import_string(TABLES[kind])(result, generation, rows)
                rows = []
            KeptResultChunk.objects.bulk_create(
                KeptResultChunk(
                    result=result,
                    number=i // CHUNK,
                    generation=generation,
                    rows=rows[i : i + CHUNK],
                )
                for i in range(0, len(rows), CHUNK)
            )
    results.filter(requested_generation__lte=generation).update(
        requested_generation=None, requested_at=None
    )
    return generation


def as_json(value: Any) -> Any:
    """Dataclasses, dates and decimals as plain JSON values."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
