from django.apps import AppConfig


class CockpitConfig(AppConfig):
    name = "cockpit"
    verbose_name = "Fleet Cockpit core"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from cockpit.models import Employee, Group
        from devices.models import Device

        # Cache invalidation only (cockpit.paging): no business rule hangs on these signals.
        for model in (Device, Employee, Group):
            post_save.connect(_org_data_changed, sender=model, dispatch_uid=f"counts-save-{model.__name__}")
            post_delete.connect(_org_data_changed, sender=model, dispatch_uid=f"counts-delete-{model.__name__}")
        for through in (Device.groups.through, Employee.groups.through):
            m2m_changed.connect(_m2m_changed, sender=through, dispatch_uid=f"counts-m2m-{through.__name__}")


def _org_data_changed(sender, instance, **kwargs):
    from cockpit.paging import org_data_changed

    org_data_changed(instance.organization_id)


def _m2m_changed(sender, instance, action, **kwargs):
    if action.startswith("post_"):
        _org_data_changed(sender, instance)
