"""Read-only views for platform operators; secrets (the enroll secret, sign-in hashes) are never shown."""

from django.contrib import admin

from enrollment.models import AutoUnenrollRun, EnrollmentSettings, InstallerDownload, Invitation, InvitationBatch


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EnrollmentSettings)
class EnrollmentSettingsAdmin(ReadOnlyAdmin):
    list_display = ["organization", "has_enroll_secret", "fleet_url", "updated_at"]
    fields = ["organization", "fleet_url", "package_url_macos", "package_url_windows", "package_url_linux"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "kind", "reason", "organization", "created_at", "used_at"]
    list_filter = ["kind", "reason", "organization"]
    search_fields = ["email"]


@admin.register(InvitationBatch)
class InvitationBatchAdmin(ReadOnlyAdmin):
    list_display = ["organization", "kind", "status", "total", "skipped", "resumed", "created_at", "finished_at",
                    "abandoned_at"]
    list_filter = ["kind", "status", "organization"]


@admin.register(InstallerDownload)
class InstallerDownloadAdmin(ReadOnlyAdmin):
    list_display = ["employee", "platform", "format", "backend", "organization", "created_at"]
    list_filter = ["platform", "backend", "organization"]


@admin.register(AutoUnenrollRun)
class AutoUnenrollRunAdmin(ReadOnlyAdmin):
    list_display = ["organization", "status", "created_at", "enrolled_count", "reinvited"]
    list_filter = ["status", "organization"]
