from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The core at the bottom of the house: organizations, memberships, employees, groups, API tokens, the audit
    log, the tenant base, and the registries (hooks, panels, cache dependencies) the domain apps plug into. It
    imports no domain app.

    Its label stays ``cockpit``: the tables (``cockpit_organization``…), the migration history and every
    ``"cockpit.Organization"`` reference were made when the core lived in the project package, and keep working.
    """

    name = "core"
    label = "cockpit"
    verbose_name = "Fleet Cockpit core"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from core.models import Employee, Group
        from core.paging import track_org_data

        # Cache invalidation only (core.paging): no business rule hangs on these signals.
        track_org_data(Employee, Employee.groups.through)
        track_org_data(Group)

        # The signed-in user's memberships are read from the cache (core.caching): any change to them, to the
        # user, or to an organization they belong to, replaces the entry's version.
        from django.contrib.auth import get_user_model

        from core.models import Membership, Organization

        for signal in (post_save, post_delete):
            signal.connect(_user_changed, sender=get_user_model(), dispatch_uid=f"auth-user-{signal}")
            signal.connect(_membership_changed, sender=Membership, dispatch_uid=f"memberships-{signal}")
            signal.connect(_organization_changed, sender=Organization, dispatch_uid=f"memberships-org-{signal}")


def _user_changed(sender, instance, **kwargs):
    from core.caching import invalidate, memberships_key

    invalidate(memberships_key(instance.pk))


def _membership_changed(sender, instance, **kwargs):
    from core.caching import invalidate, memberships_key

    invalidate(memberships_key(instance.user_id))


def _organization_changed(sender, instance, **kwargs):
    from core.caching import invalidate, memberships_key
    from core.models import Membership

    for user_id in Membership.objects.filter(organization_id=instance.pk).values_list("user_id", flat=True):
        invalidate(memberships_key(user_id))
