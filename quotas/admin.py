from django.contrib import admin
from django.db import models

from portal.calls.models import Call
from portal.jsonlimits import DepthLimitedJSONFormField
from quotas.models import Agreement, Allocation, AllocationBudget, AllocationRound, CallPool, RoundLine
from quotas.round_setup import LEVER_FIELDS


class BudgetInline(admin.TabularInline):
    model = AllocationBudget
    extra = 0
    readonly_fields = ["used_gpu_seconds", "held_gpu_seconds"]


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["project_title", "organisation", "status", "starts_on", "ends_on", "max_concurrent_gpus"]
    list_filter = ["status", "call", "allow_custom_images"]
    search_fields = ["project_title", "organisation__name"]
    readonly_fields = ["public_id", "application"]
    filter_horizontal = ["providers"]
    inlines = [BudgetInline]


class CallPoolInline(admin.TabularInline):
    model = CallPool
    extra = 0
    readonly_fields = ["awarded_gpu_hours"]


# The call's admin lives here, with its pools: a call knows nothing of the pools drawn from it.
@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["title", "opens_at", "closes_at", "allocation_start", "allocation_end"]
    search_fields = ["title"]
    # The round's levers and weights are set through the round setup page or the API, which check them
    # (quotas/round_setup.py); here they are shown, not edited.
    readonly_fields = ["public_id", "criteria_weights", *LEVER_FIELDS]
    inlines = [CallPoolInline]
    # eligible_org_types is edited as JSON text: parsed only within the nesting limit.
    formfield_overrides = {models.JSONField: {"form_class": DepthLimitedJSONFormField}}


class ViewOnly:
    """Rounds and agreements change only through their services (quotas/round.py, quotas/agreements.py),
    which check every rule and audit; the admin shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RoundLineInline(ViewOnly, admin.TabularInline):
    model = RoundLine
    fields = [
        "position",
        "application",
        "gpu_type",
        "asked_gpu_hours",
        "decision",
        "gpu_hours",
        "reason",
        "outcome",
    ]
    readonly_fields = fields


@admin.register(AllocationRound)
class AllocationRoundAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["call", "state", "proposed_at", "approved_at"]
    list_filter = ["state"]
    inlines = [RoundLineInline]


@admin.register(Agreement)
class AgreementAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "allocation",
        "terms_version",
        "state",
        "deadline",
        "accepted_by",
        "accepted_at",
        "accepted_from",
    ]
    list_filter = ["state"]
    search_fields = ["allocation__project_title", "allocation__organisation__name"]
