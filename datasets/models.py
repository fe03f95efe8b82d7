"""What was loaded from the reference files, so a reload can tell a person's edit from
a change of the file."""

from django.db import models


class DatasetVersion(models.Model):
    """The version (content hash) of a reference dataset that was last loaded."""

    dataset = models.CharField(max_length=60, unique=True)
    version = models.CharField(max_length=64, help_text="SHA-256 of the source file(s)")
    loaded_at = models.DateTimeField(auto_now=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["dataset"]

    def __str__(self) -> str:
        return f"{self.dataset} @ {self.version[:12]}"


class LoadedRecord(models.Model):
    """One record as the loader last wrote it: its fingerprint is the hash of its values
    then. A record whose values no longer match was changed by a person since."""

    dataset = models.CharField(max_length=60)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    version = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "key"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "key"], name="uniq_loaded_record")
        ]

    def __str__(self) -> str:
        return f"{self.dataset}:{self.key}"
