import hashlib
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from core.events import describe, readable, source_label
from core.tenancy import TenantModel, TenantQuerySet


class Organization(models.Model):
    """A customer. Everything else belongs to exactly one organization."""

    class SuggestionMode(models.TextChoices):
        OFF = "off", _("Off")
        SUGGEST = "suggest", _("Suggest (admin validates)")
        AUTO = "auto", _("Assign automatically")

    class AutoUnenrollAction(models.TextChoices):
        DELETE_HOST = "delete_host", _("Delete the host from Fleet")
        TURN_OFF_MDM = "turn_off_mdm", _("Turn MDM off")

    class OffboardingDefaultAction(models.TextChoices):
        RETURN_TO_STOCK = "return_to_stock", _("Return to stock")
        REMOVE_FROM_FLEET = "remove_from_fleet", _("Remove from the fleet")

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Settings (DESIGN §3 thresholds, §7 suggestion mode, §9 auto-unenrollment).
    # Off until an admin turns it on (the demo seed does): suggestions are an opt-in.
    assignment_suggestion_mode = models.CharField(
        max_length=10, choices=SuggestionMode.choices, default=SuggestionMode.OFF
    )
    offline_threshold_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    agent_inactive_threshold_hours = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    auto_unenroll_enabled = models.BooleanField(default=False)
    auto_unenroll_after_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    auto_unenroll_reinvite = models.BooleanField(default=True)
    auto_unenroll_action = models.CharField(
        max_length=15, choices=AutoUnenrollAction.choices, default=AutoUnenrollAction.DELETE_HOST
    )
    auto_unenroll_max_share_percent = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("A run that would purge more than this share of the enrolled devices stops and asks an admin"),
    )
    suggestion_confidence_threshold = models.FloatField(
        default=0.9, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text=_("In auto mode, only suggestions at least this confident are assigned"),
    )
    invite_employees_on_create = models.BooleanField(
        default=False, help_text=_("Send the enrollment invitation when HR (API) creates an employee")
    )
    offboarding_default_action = models.CharField(
        max_length=20, choices=OffboardingDefaultAction.choices, default=OffboardingDefaultAction.RETURN_TO_STOCK,
        help_text=_("The decision for devices an HR offboarding request does not name"),
    )
    offboarding_hold_until_wipe = models.BooleanField(
        default=False, help_text=_("A device reassigned by offboarding waits for its wipe to be confirmed")
    )
    # The language of its employees' e-mails and enrollment page (an employee's own language comes first), and of
    # the cockpit's e-mails to an admin who chose none. Empty: the page follows the visitor's browser and e-mails
    # are in ``settings.LANGUAGE_CODE``.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default="", db_default="",
        help_text=_("Employees’ e-mails and enrollment page, unless an employee has a language of their own"),
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A cockpit user's seat in one organization, with a role."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        TECHNICIAN = "technician", _("Technician")
        VIEWER = "viewer", _("Viewer")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_act_on_devices(self) -> bool:
        return self.role in {self.Role.OWNER, self.Role.ADMIN, self.Role.TECHNICIAN}

    @property
    def can_manage_people(self) -> bool:
        return self.role in {self.Role.OWNER, self.Role.ADMIN}

    @property
    def can_manage_settings(self) -> bool:
        return self.role in {self.Role.OWNER, self.Role.ADMIN}


class Group(TenantModel):
    """A named set of employees and devices; CSV rows and pre-assignments refer to it by name."""

    name = models.CharField(max_length=150)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="group_unique_name_per_org"),
        ]

    def __str__(self):
        return self.name


class Employee(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        OFFBOARDED = "offboarded", _("Offboarded")

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=150, blank=True, help_text=_("Directory user name"))
    domain_name = models.CharField(max_length=150, blank=True, help_text=_("Directory domain (AD form DOMAIN\\user)"))
    external_id = models.CharField(max_length=150, null=True, blank=True, help_text=_("HR system key"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)
    groups = models.ManyToManyField(Group, blank=True, related_name="employees")
    # Their e-mails and enrollment page; empty: the organization's language.
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, null=True, blank=True)

    class Meta:
        ordering = ["full_name", "email"]
        constraints = [
            models.UniqueConstraint("organization", Lower("email"), name="employee_unique_email_per_org"),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="employee_unique_external_id_per_org",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="employee_org_status")]

    def __str__(self):
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def directory_login(self) -> str:
        """``DOMAIN\\user`` as Active Directory writes it."""
        if self.domain_name and self.username:
            return f"{self.domain_name}\\{self.username}"
        return self.username

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class UserPreference(models.Model):
    """A cockpit user's own settings, across organizations. ``language`` empty: the switcher's or browser's."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user} ({self.language or '-'})"


class ApiToken(TenantModel):
    """An organization's API key. Only its SHA-256 is stored; the key is shown once."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Read and write")

    KEY_PREFIX = "fcp_"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False, help_text=_("First characters, to recognise it"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.key_hint}…)"

    @classmethod
    def generate_key(cls) -> str:
        return cls.KEY_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        # A 256-bit random key needs no slow hash: SHA-256 is not reversible at that entropy.
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE


class AuditEventQuerySet(TenantQuerySet):
    def for_target(self, obj):
        return self.filter(target_type=obj._meta.label_lower, target_id=str(obj.pk))


class AuditEvent(models.Model):
    """Who did what to which object, with the state before and after.

    Written explicitly by services (never by signals). ``event`` is a code from
    ``core.audit.EVENTS``, which also holds the sentence the cockpit timeline shows.
    """

    class ActorType(models.TextChoices):
        USER = "user", _("User")
        TOKEN = "token", _("API token")
        SYSTEM = "system", _("System job")

    # Indexes: every entry is written once and read by organization, so the table keeps only what its readers use
    # (the organization's three below lead with it; the actors' hold the rows that have one, for a deletion's
    # SET NULL): each index is a write per entry, and bulk work (a CSV import, a sync) writes 100,000 of them.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_type = models.CharField(max_length=6, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_index=False)
    actor_label = models.CharField(max_length=200, help_text=_("Who, as shown at the time"))
    event = models.CharField(max_length=64)
    source = models.CharField(max_length=20, blank=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "target_type", "target_id"], name="audit_org_target"),
            models.Index(fields=["organization", "-created_at"], name="audit_org_created"),
            models.Index(fields=["organization", "event"], name="audit_org_event"),
            models.Index(fields=["actor_user"], name="audit_actor_user", condition=Q(actor_user__isnull=False)),
            models.Index(fields=["actor_token"], name="audit_actor_token", condition=Q(actor_token__isnull=False)),
        ]

    def __str__(self):
        return f"{self.event} {self.target_label}"

    @property
    def sentence(self) -> str:
        return describe(self)

    @property
    def source_label(self) -> str:
        """Why the change happened, in the reader's language (``core.events.source_label``)."""
        return source_label(self.source) if self.source else ""

    @property
    def reason(self) -> str:
        """Why, as the timeline shows it: a person's note, or the service's stored sentence in the reader's
        language (``core.events.readable``)."""
        return readable(self.after).get("reason") or ""


# The job leases' table lives with its helpers (core.leases), and the jobs' with their registry and runner
# (core.jobs); imported here so Django always finds the models.
from core.jobs import Job  # noqa: E402,F401
from core.leases import JobLease  # noqa: E402,F401
