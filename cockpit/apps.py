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

        # The signed-in user and their memberships are read from the cache (cockpit.caching): any change to
        # them, or to an organization they belong to, replaces the entry's version.
        from django.contrib.auth import get_user_model

        from cockpit.models import Membership, Organization

        for signal in (post_save, post_delete):
            signal.connect(_user_changed, sender=get_user_model(), dispatch_uid=f"auth-user-{signal}")
            signal.connect(_membership_changed, sender=Membership, dispatch_uid=f"memberships-{signal}")
            signal.connect(_organization_changed, sender=Organization, dispatch_uid=f"memberships-org-{signal}")


def _org_data_changed(sender, instance, **kwargs):
    from cockpit.paging import org_data_changed

    org_data_changed(instance.organization_id)


def _m2m_changed(sender, instance, action, **kwargs):
    if action.startswith("post_"):
        _org_data_changed(sender, instance)


def _user_changed(sender, instance, **kwargs):
    from cockpit.caching import invalidate, memberships_key, user_key

    invalidate(user_key(instance.pk))
    invalidate(memberships_key(instance.pk))


def _membership_changed(sender, instance, **kwargs):
    from cockpit.caching import invalidate, memberships_key

    invalidate(memberships_key(instance.user_id))


def _organization_changed(sender, instance, **kwargs):
    from cockpit.caching import invalidate, memberships_key
    from cockpit.models import Membership

    for user_id in Membership.objects.filter(organization_id=instance.pk).values_list("user_id", flat=True):
        invalidate(memberships_key(user_id))
