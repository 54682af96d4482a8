from django.contrib import admin

from portal.applications.models import Application, ApplicationGpuRequest, Review


class GpuRequestInline(admin.TabularInline):
    model = ApplicationGpuRequest
    extra = 0


class ReviewInline(admin.TabularInline):
    model = Review
    extra = 0
    fields = [
        "reviewer",
        "round",
        "technical_merit",
        "feasibility",
        "impact",
        "need_for_public_compute",
        "submitted_at",
    ]
    readonly_fields = fields


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Read-mostly: state changes go through the portal so they are validated, audited and notified."""

    list_display = ["project_title", "organisation", "call", "kind", "state", "submitted_at"]
    list_filter = ["state", "kind", "call"]
    search_fields = ["project_title", "organisation__name"]
    readonly_fields = [
        "public_id",
        "state",
        "review_round",
        "submitted_at",
        "decided_at",
        "decided_by",
        "decision_reason",
    ]
    inlines = [GpuRequestInline, ReviewInline]
