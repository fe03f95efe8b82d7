"""Import jobs in the API (intake)."""

from rest_framework import serializers

from intake.models import ImportJob
from intake.services import job_progress


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV or XLSX (no macros, no password)")
    kind = serializers.CharField(
        required=False, allow_blank=True, help_text="Optional when the file's header says it"
    )
    dry_run = serializers.BooleanField(
        default=True, help_text="List the findings only (default); false: write all or nothing"
    )


class ProblemSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["error", "warning"])
    message = serializers.CharField()
    sheet = serializers.CharField(required=False)
    cell = serializers.CharField(required=False)
    row = serializers.IntegerField(required=False)
    column = serializers.CharField(required=False)


class ImportJobSerializer(serializers.ModelSerializer):
    rows_done = serializers.SerializerMethodField()
    rows_total = serializers.SerializerMethodField()
    percent = serializers.SerializerMethodField()
    problems = ProblemSerializer(many=True, read_only=True)
    written = serializers.BooleanField(read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "dry_run",
            "written",
            "filename",
            "size",
            "sha256",
            "rows_done",
            "rows_total",
            "percent",
            "summary",
            "problems",
            "error",
            "attempts",
            "dry_run_of",
            "organisation",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def _progress(self, job):
        cache = getattr(self, "_live", None)
        if cache is None or cache[0] != job.pk:
            self._live = (job.pk, job_progress(job))
        return self._live[1]

    def get_rows_done(self, job) -> int:
        return self._progress(job)[0]

    def get_rows_total(self, job) -> int | None:
        return self._progress(job)[1]

    def get_percent(self, job) -> int:
        return self._progress(job)[2]
