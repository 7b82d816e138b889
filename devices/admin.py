from django.contrib import admin

from devices.models import Device, DeviceHistory


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Read-mostly: status changes go through the services so history and audit stay complete."""

    list_display = ["__str__", "serial_number", "organization", "platform", "availability_status", "assignment_status",
                    "enrollment_status"]
    list_filter = ["organization", "platform", "availability_status", "enrollment_status"]
    search_fields = ["serial_number", "name"]
    readonly_fields = ["availability_status", "assignment_status", "assignee", "enrollment_status", "version"]


@admin.register(DeviceHistory)
class DeviceHistoryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "device", "action", "source", "actor_label"]
    list_filter = ["action", "source"]
