from django.contrib import admin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "status", "dry_run", "percent", "organisation", "created_at"]
    list_filter = ["kind", "status", "dry_run"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
