from django.contrib import admin

from portal.calls.models import Call
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
