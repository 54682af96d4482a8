from django.contrib import admin

from quotas.models import Allocation, AllocationBudget


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
    inlines = [BudgetInline]
