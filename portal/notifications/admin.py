from django.contrib import admin

from portal.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "to_email", "subject", "sent_at", "attempts"]
    list_filter = ["sent_at"]
    search_fields = ["recipient__email", "to_email", "subject"]
