from django.contrib import admin
from django.db import models

from portal.calls.models import Call
from portal.jsonlimits import DepthLimitedJSONFormField
from quotas.models import Allocation, AllocationBudget, CallPool


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
    readonly_fields = [
        "public_id",
        "criteria_weights",
        "sector_shares",
        "regional_share",
        "regional_bonus",
        "max_gpu_hours_per_org",
        "max_awards_per_org",
        "agreement_terms",
        "agreement_version",
        "agreement_days",
        "reclaim_threshold",
    ]
    inlines = [CallPoolInline]
    # eligible_org_types is edited as JSON text: parsed only within the nesting limit.
    formfield_overrides = {models.JSONField: {"form_class": DepthLimitedJSONFormField}}
