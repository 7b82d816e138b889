"""factory_boy factories, one per concrete model of the project's apps (``tests/core/test_factories.py`` fails for a
model without one). Each builds a valid object whose related objects belong to its organization: a related
tenant object is made with ``organization=SelfAttribute("..organization")``, so ``DeviceCommandFactory(organization=
acme)`` gives a command on a device of Acme. Devices start as the service makes them: in stock, to assign."""

import hashlib
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from assignment.models import CsvImport, PreAssignment, Suggestion
from core.events import Source
from core.leases import JobLease
from core.models import ApiToken, AuditEvent, Employee, Group, Membership, Organization
from devices.models import Device, DeviceCommand, DeviceHistory, Platform
from enrollment.models import (
    AutoUnenrollRun,
    EnrollmentSettings,
    InstallerDownload,
    Invitation,
    InvitationBatch,
    SignInToken,
)
from mdm_sync.models import DailySnapshot, FleetConnection, GroupLabel, SyncRun
from offboarding.models import DeviceAction, Offboarding, OffboardingDevice

SAME_ORGANIZATION = factory.SelfAttribute("..organization")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TenantFactory(factory.django.DjangoModelFactory):
    """A tenant-owned model: a new organization unless one is given."""

    class Meta:
        abstract = True

    organization = factory.SubFactory("tests.factories.OrganizationFactory")


# --- core ------------------------------------------------------------------------------------


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.ADMIN


class GroupFactory(TenantFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


class EmployeeFactory(TenantFactory):
    class Meta:
        model = Employee

    full_name = factory.Sequence(lambda n: f"Employee {n}")
    email = factory.Sequence(lambda n: f"employee{n}@example.test")
    username = factory.Sequence(lambda n: f"employee{n}")
    domain_name = "CORP"


class ApiTokenFactory(TenantFactory):
    """A token row only (its key is not known); tests that call the API use ``tests.conftest.token_key``."""

    class Meta:
        model = ApiToken

    name = factory.Sequence(lambda n: f"Token {n}")
    scope = ApiToken.Scope.READ
    key_hash = factory.Sequence(lambda n: _sha256(f"fcp_factory-key-{n}"))
    key_hint = "fcp_factor"


class AuditEventFactory(factory.django.DjangoModelFactory):
    """An entry about ``target`` (a group of the same organization unless given)."""

    class Meta:
        model = AuditEvent
        exclude = ["target"]

    organization = factory.SubFactory(OrganizationFactory)
    target = factory.SubFactory(GroupFactory, organization=SAME_ORGANIZATION)
    actor_type = AuditEvent.ActorType.SYSTEM
    actor_label = "tests"
    event = "group.created"
    source = Source.MANUAL
    target_type = factory.LazyAttribute(lambda e: e.target._meta.label_lower)
    target_id = factory.LazyAttribute(lambda e: str(e.target.pk))
    target_label = factory.LazyAttribute(lambda e: str(e.target))


# --- devices ---------------------------------------------------------------------------------


class DeviceFactory(TenantFactory):
    class Meta:
        model = Device

    serial_number = factory.Sequence(lambda n: f"SN{n:08d}")
    name = factory.Sequence(lambda n: f"laptop-{n}")
    platform = Platform.MACOS
    model = "MacBook Pro"


class DeviceHistoryFactory(TenantFactory):
    class Meta:
        model = DeviceHistory

    device = factory.SubFactory(DeviceFactory, organization=SAME_ORGANIZATION)
    action = DeviceHistory.Action.CREATED
    source = Source.MANUAL
    actor_label = "tests"
    availability_after = factory.SelfAttribute("device.availability_status")
    assignment_after = factory.LazyAttribute(lambda h: h.device.assignment_status or "")


class DeviceCommandFactory(TenantFactory):
    """A wipe just requested (not sent)."""

    class Meta:
        model = DeviceCommand

    device = factory.SubFactory(DeviceFactory, organization=SAME_ORGANIZATION)
    kind = DeviceCommand.Kind.WIPE
    requested_by_label = "tests"


# --- mdm_sync --------------------------------------------------------------------------------


class FleetConnectionFactory(TenantFactory):
    """Saved without testing it: ``mdm_sync.services.fleet_connection_save`` is the way that tests Fleet."""

    class Meta:
        model = FleetConnection

    url = "https://fleet.example.test"
    token = "fleet-api-token"  # the model's property: stored encrypted


class JobLeaseFactory(factory.django.DjangoModelFactory):
    """A released lease: the next job of that kind takes it at once."""

    class Meta:
        model = JobLease

    organization = factory.SubFactory(OrganizationFactory)
    job = factory.Sequence(lambda n: f"job-{n}")
    leased_until = factory.LazyFunction(timezone.now)


class SyncRunFactory(TenantFactory):
    """A finished, successful sync."""

    class Meta:
        model = SyncRun

    status = SyncRun.Status.SUCCEEDED
    trigger = SyncRun.Trigger.COMMAND
    actor_label = "tests"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda run: run.started_at + timedelta(seconds=3))


class DailySnapshotFactory(TenantFactory):
    """Yesterday's snapshot of a small fleet with one successful sync."""

    class Meta:
        model = DailySnapshot

    day = factory.LazyFunction(lambda: timezone.now().date() - timedelta(days=1))
    taken_at = factory.LazyFunction(timezone.now)
    devices = 3
    in_use_assigned = 2
    in_stock = 1
    enrolled = 3
    sync_runs = 1
    sync_seconds = 4.2
    sync_outcome = SyncRun.Status.SUCCEEDED


class GroupLabelFactory(TenantFactory):
    """A group's label, not sent to Fleet yet."""

    class Meta:
        model = GroupLabel

    group = factory.SubFactory(GroupFactory, organization=SAME_ORGANIZATION)
    group_name = factory.SelfAttribute("group.name")


# --- enrollment ------------------------------------------------------------------------------


class EnrollmentSettingsFactory(TenantFactory):
    class Meta:
        model = EnrollmentSettings
        django_get_or_create = ["organization"]  # one per organization


class InvitationBatchFactory(TenantFactory):
    class Meta:
        model = InvitationBatch

    kind = InvitationBatch.Kind.INVITATIONS
    total = 2
    chunks = 1
    requested_by = "tests"


class InvitationFactory(TenantFactory):
    class Meta:
        model = Invitation

    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    kind = Invitation.Kind.INVITATION
    reason = Invitation.Reason.MANUAL
    sent_by = "tests"
    email = factory.SelfAttribute("employee.email")


class SignInTokenFactory(TenantFactory):
    """Hashes of a code and a link nobody knows: a real one comes from ``enrollment.services.sign_in``."""

    class Meta:
        model = SignInToken

    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    code_hash = factory.Sequence(lambda n: _sha256(f"code-{n}"))
    link_hash = factory.Sequence(lambda n: _sha256(f"link-{n}"))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


class InstallerDownloadFactory(TenantFactory):
    class Meta:
        model = InstallerDownload

    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    platform = "macos"
    format = "pkg"
    backend = "script"
    filename = "fleet-osquery.pkg"


class AutoUnenrollRunFactory(TenantFactory):
    class Meta:
        model = AutoUnenrollRun

    status = AutoUnenrollRun.Status.NOTHING
    actor_label = "tests"
    threshold_days = 30
    finished_at = factory.LazyFunction(timezone.now)


# --- assignment ------------------------------------------------------------------------------


class CsvImportFactory(TenantFactory):
    """An import previewed with no rows."""

    class Meta:
        model = CsvImport

    status = CsvImport.Status.PREVIEWED
    source = "csv_import"
    filename = "assignments.csv"
    created_by = "tests"


class PreAssignmentFactory(TenantFactory):
    """A waiting pre-assignment of a serial no device has yet."""

    class Meta:
        model = PreAssignment

    serial_number = factory.Sequence(lambda n: f"PRE{n:08d}")
    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    source = "manual"
    created_by = "tests"


class SuggestionFactory(TenantFactory):
    """A pending suggestion: ``device`` is probably ``employee``'s."""

    class Meta:
        model = Suggestion

    device = factory.SubFactory(DeviceFactory, organization=SAME_ORGANIZATION)
    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    confidence = 0.95
    evidence = factory.LazyAttribute(lambda s: [{
        "kind": "sso_email", "value": s.employee.email, "detail": "", "employee_id": s.employee.pk,
        "employee": s.employee.display_name, "active": True, "weight": 0.95,
    }])
    evidence_kinds = ",sso_email,"
    fingerprint = factory.Sequence(lambda n: f"{n:040x}")


# --- offboarding -----------------------------------------------------------------------------


class OffboardingFactory(TenantFactory):
    """A draft case."""

    class Meta:
        model = Offboarding

    employee = factory.SubFactory(EmployeeFactory, organization=SAME_ORGANIZATION)
    started_by_label = "tests"


class OffboardingDeviceFactory(TenantFactory):
    """A pending decision to return a device to stock, in a draft case of the same organization."""

    class Meta:
        model = OffboardingDevice

    offboarding = factory.SubFactory(OffboardingFactory, organization=SAME_ORGANIZATION)
    device = factory.SubFactory(DeviceFactory, organization=SAME_ORGANIZATION)
    action = DeviceAction.RETURN_TO_STOCK


# Every factory above, by model (``tests/core/test_factories.py`` holds it to the project's models).
def _app_factories():
    """Factories of apps that keep theirs beside their tests (``tests/<app>/factories.py``)."""
    from importlib import import_module
    from pathlib import Path

    found = []
    for path in sorted(Path(__file__).resolve().parent.glob("*/factories.py")):
        found.extend(vars(import_module(f"tests.{path.parent.name}.factories")).values())
    return found


FACTORIES = {
    obj._meta.model: obj
    for obj in [*globals().values(), *_app_factories()]
    if isinstance(obj, type) and issubclass(obj, factory.django.DjangoModelFactory)
    and not obj._meta.abstract and obj._meta.model is not None
}
