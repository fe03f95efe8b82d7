"""Which import jobs a requester may see: its organisation's, its own, or (staff) all."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from registry import permissions as perms

from .models import ImportJob


def jobs_visible_to(user) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.select_related("requested_by", "organisation")
    if perms.is_staff(user):
        return jobs
    if not (user and user.is_authenticated):
        return jobs.none()
    membership = perms.membership_of(user)
    if membership is not None:
        return jobs.filter(Q(organisation_id=membership.organisation_id) | Q(requested_by=user))
    return jobs.filter(requested_by=user)
