"""The tenant-scoped base every organization-owned model inherits.

Objects are always reached through ``Model.objects.for_org(organization)``; a view never does
``Model.objects.get(pk=...)`` from a URL, so another organization's object is simply not found.
"""

from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_org(self, organization):
        return self.filter(organization=organization)


class TenantModel(models.Model):
    organization = models.ForeignKey("cockpit.Organization", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
