from django.apps import AppConfig

EVENTS = {
    "enrollment.invitation_sent": "{actor} sent the enrollment invitation to {target} ({after[kind]})",
    "enrollment.signed_in": "{target} signed in on the enrollment page",
    "enrollment.installer_downloaded": "{target} downloaded the {after[platform]} installer ({after[format]})",
    "enrollment.fix_instructions_sent": "{actor} sent the fix instructions for {target} to {after[employee]}",
    "enrollment.bulk_queued": "{actor} queued {after[total]} e-mails ({after[kind]}) for {target}",
    "enrollment.exemption_changed": "{actor} set the auto-unenrollment exemption of {target} to {after[exempt]}",
    "enrollment.settings_updated": "{actor} changed the remote management settings of {target}",
    "auto_unenroll.succeeded": "{actor} purged {after[purged]} offline device(s) ({target})",
    "auto_unenroll.confirmed": "{actor} confirmed a stopped run and purged {after[purged]} device(s) ({target})",
    "auto_unenroll.blocked": "{actor} stopped {target}: {after[candidates]} of {after[enrolled]} devices is too many",
    "auto_unenroll.stale_sync": "{actor} skipped {target}: the last Fleet sync is too old",
    "auto_unenroll.failed": "{actor} could not purge offline devices ({target})",
}


class EnrollmentConfig(AppConfig):
    name = "enrollment"

    def ready(self):
        from core.audit import register_events
        from core.hooks import employee_created
        from core.panels import device_panels, employee_panels
        from enrollment import panels
        from enrollment.autoassign import auto_assign_after_sync
        from enrollment.services import invite_on_create
        from mdm_sync.hooks import after_sync

        register_events(EVENTS)
        after_sync.register(auto_assign_after_sync, order=20, name="enrollment.auto_assign")
        employee_created.register(invite_on_create, order=20, name="enrollment.invite_on_create")
        device_panels.register(panels.readiness_panel, order=10)
        employee_panels.register(panels.invitations_panel, order=10)
