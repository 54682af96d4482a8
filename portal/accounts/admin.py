from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from portal.accounts.forms import AdminLoginForm
from portal.accounts.models import ApiKey, User

# The admin's login checks passwords through the same backend as the portal's, under the same lockout;
# this form only says so when it refuses a locked-out login.
admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_reviewer", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_reviewer", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        (
            "Roles",
            {
                "fields": [
                    "is_active",
                    "is_staff",
                    "is_reviewer",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                ]
            },
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})
    ]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "read_only", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    search_fields = ["prefix", "user__email", "name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
