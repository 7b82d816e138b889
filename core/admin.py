from django.contrib import admin

from core.models import ApiToken, AuditEvent, Employee, Group, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "organization", "status"]
    list_filter = ["status", "organization"]
    search_fields = ["email", "full_name", "external_id"]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "organization"]
    list_filter = ["organization"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "scope", "key_hint", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "key_hint", "last_used_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "event", "actor_label", "target_label"]
    list_filter = ["event", "organization"]
    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
