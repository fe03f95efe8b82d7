"""Pages for officers: upload a file, see the findings of its dry run, commit it."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import kinds, selectors, services
from .rmi import selectors as rmi_selectors
from .rmi import services as rmi_services


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV or XLSX, no macros, no password")
    kind = forms.ChoiceField(required=False, help_text="Leave empty when the header says it")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "(from the file)")] + [
            (k.code, k.label) for k in kinds.all_kinds().values()
        ]


def _officer(request) -> None:
    if not services.can_import(request.user):
        raise PermissionDenied("Only staff and compliance officers may import data.")


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    _officer(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_create(
                user=request.user,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"] or None,
                dry_run=True,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("intake:job", pk=job.pk)
    jobs = selectors.jobs_visible_to(request.user)[:20]
    tables = [k for k in kinds.all_kinds().values() if "table" in k.extra]
    return render(request, "intake/upload.html", {"form": form, "jobs": jobs, "tables": tables})


def _job(request, pk):
    job = selectors.jobs_visible_to(request.user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such import job.")
    return job


@login_required
def job_detail(request, pk):
    job = _job(request, pk)
    return _job_page(request, job)


def _job_page(request, job, *, errors=None, status=200):
    done, total, percent = services.job_progress(job)
    pending = []
    if not job.dry_run and job.summary.get("declaration"):
        pending = rmi_selectors.pending_matches(job_id=job.pk, user=request.user)
    return render(
        request,
        "intake/job.html",
        {
            "job": job,
            "done": done,
            "total": total,
            "percent": percent,
            "can_commit": job.dry_run
            and job.status == job.Status.DONE
            and not job.summary.get("errors")
            and services.can_import(request.user),
            "pending": pending,
            "can_decide": services.can_import(request.user),
            "decision_errors": errors or {},
            "new": rmi_services.NEW,
            "none": rmi_services.NONE,
        },
        status=status,
    )


@login_required
@require_POST
def job_commit(request, pk):
    job = _job(request, pk)
    _officer(request)
    try:
        commit = services.job_commit(user=request.user, job=job)
    except ValidationError as error:
        raise PermissionDenied(" ".join(error.messages)) from error
    return redirect("intake:job", pk=commit.pk)


@login_required
@require_POST
def job_matches(request, pk):
    """A person's decisions on the smelters matched by name only: for each, the facility
    it is, a new facility, or none; all saved together or none."""
    job = _job(request, pk)
    smelters = rmi_selectors.declared_smelters_visible_to(request.user).filter(
        declaration__job_id=job.pk
    )
    if not smelters.exists():
        raise Http404("This import holds no declared smelter of yours.")
    _officer(request)
    decisions = {}
    for name, value in request.POST.items():
        if name.startswith("smelter-") and name[8:].isdigit() and value:
            decisions[int(name[8:])] = value
    if not decisions:
        return _job_page(request, job, errors={"": "Choose for at least one smelter."}, status=400)
    try:
        done = rmi_services.decide_matches(
            decisions=decisions, smelters=smelters.filter(rmi_selectors.PENDING), user=request.user
        )
    except ValidationError as error:
        return _job_page(
            request,
            job,
            errors={k: " ".join(v) for k, v in error.message_dict.items()},
            status=400,
        )
    messages.success(request, f"{done} smelter decision{'s' if done != 1 else ''} saved.")
    return redirect("intake:job", pk=job.pk)
