from django.contrib import admin
from django.db import models

from portal.calls.models import Call
from portal.jsonlimits import DepthLimitedJSONFormField
from quotas.models import CallPool


class CallPoolInline(admin.TabularInline):
    model = CallPool
    extra = 0
    readonly_fields = ["awarded_gpu_hours"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["title", "opens_at", "closes_at", "allocation_start", "allocation_end"]
    search_fields = ["title"]
    readonly_fields = ["public_id"]
    inlines = [CallPoolInline]
    # eligible_org_types is edited as JSON text: parsed only within the nesting limit.
    formfield_overrides = {models.JSONField: {"form_class": DepthLimitedJSONFormField}}
