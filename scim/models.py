"""What SCIM provisioning keeps beside the core's employees and groups.

* ``ScimSettings``: one per organization, what a deactivation (``active: false`` or ``DELETE``) starts.
* ``ScimUser``: the identity provider's side of an employee, made the first time SCIM writes it: the attributes the
  employee model has no field for (the name's parts, the e-mail list) and ``preferredLanguage`` / ``locale`` (the
  employee's language is mapped from them, ``scim.languages``) as the provider last wrote them, the
  offboarding a deactivation started (a reactivation cancels that one, never another), and ``removed_at`` once a
  ``DELETE`` detached the employee from SCIM (it then answers 404 there; the employee and its history stay).
* ``ScimGroup``: a group's ``externalId``.

An employee or group SCIM never wrote has no row here and is still a SCIM resource, built from the core alone.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import Employee, Group
from core.tenancy import TenantModel
from offboarding.models import Offboarding


class ScimSettings(TenantModel):
    class Deactivation(models.TextChoices):
        DRAFT = "draft", _("Draft an offboarding: IT decides each device and completes it")
        SCHEDULE = "schedule", _("Schedule the offboarding with the default decisions")

    deactivation = models.CharField(
        max_length=10, choices=Deactivation.choices, default=Deactivation.DRAFT,
        help_text=_("What a user deactivated by the identity provider starts in the cockpit"),
    )
    schedule_after_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("A scheduled offboarding completes this many days after the deactivation, or on the "
                    "employee's end date when that is later"),
    )

    class Meta:
        verbose_name = "SCIM settings"
        verbose_name_plural = "SCIM settings"
        constraints = [models.UniqueConstraint(fields=["organization"], name="scim_settings_one_per_org")]

    def __str__(self):
        return f"SCIM settings of {self.organization_id}"


class ScimUser(TenantModel):
    employee = models.OneToOneField(Employee, on_delete=models.CASCADE, related_name="scim")
    attributes = models.JSONField(default=dict, blank=True,
                                  help_text=_("name, displayName and emails as the identity provider last wrote them"))
    full_name_written = models.CharField(max_length=200, blank=True,
                                         help_text=_("The full name SCIM last gave the employee"))
    deactivation = models.ForeignKey(Offboarding, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", help_text=_("The offboarding a SCIM deactivation started"))
    removed_at = models.DateTimeField(null=True, blank=True, help_text=_("Detached from SCIM by a DELETE"))

    class Meta:
        verbose_name = "SCIM user"
        indexes = [models.Index(fields=["organization", "removed_at"], name="scim_user_org_removed")]

    def __str__(self):
        return f"SCIM user of {self.employee_id}"


class ScimGroup(TenantModel):
    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="scim")
    external_id = models.CharField(max_length=150, null=True, blank=True)

    class Meta:
        verbose_name = "SCIM group"
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], condition=Q(external_id__isnull=False),
                                    name="scim_group_unique_external_id_per_org"),
        ]

    def __str__(self):
        return f"SCIM group of {self.group_id}"
