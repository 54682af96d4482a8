from django.contrib import admin

from portal.organisations.models import Membership, Organisation


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "org_type", "region", "registration_number", "verified", "created_at"]
    list_filter = ["org_type", "region", "verified"]
    search_fields = ["name", "registration_number"]
    readonly_fields = ["public_id", "verified_at", "verified_by"]
    inlines = [MembershipInline]
