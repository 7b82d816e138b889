"""The tenant-scoped base every organization-owned model inherits.

Objects are always reached through ``Model.objects.for_org(organization)``; a view never does
``Model.objects.get(pk=...)`` from a URL, so another organization's object is simply not found.
"""

from django.db import models

from core.paging import GENERATION_MODELS, org_data_changed


class TenantQuerySet(models.QuerySet):
    """Scoped reads (``for_org``); and bulk writes that bypass model signals (``update``, ``bulk_create``,
    ``bulk_update``) still start a new data generation of each organization they touched, so no cached count
    or list outlives them, whoever wrote them (``core.paging``)."""

    def for_org(self, organization):
        return self.filter(organization=organization)

    def _tracked(self) -> bool:
        return self.model._meta.label_lower in GENERATION_MODELS

    def update(self, **kwargs):
        organization_ids = set(self.values_list("organization_id", flat=True).distinct()) if self._tracked() else ()
        updated = super().update(**kwargs)
        for organization_id in organization_ids:
            org_data_changed(organization_id)
        return updated

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._changed(created)
        return created

    def bulk_update(self, objs, *args, **kwargs):
        updated = super().bulk_update(objs, *args, **kwargs)
        self._changed(objs)
        return updated

    def _changed(self, objs) -> None:
        if self._tracked():
            for organization_id in {obj.organization_id for obj in objs}:
                org_data_changed(organization_id)


class TenantModel(models.Model):
    organization = models.ForeignKey("cockpit.Organization", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
