"""User-specific installers (DESIGN §5.3): whether they are ready, the employee's signed expiring download link,
and the build that records the download."""

from django.core import signing
from django.db import transaction
from django.utils.translation import gettext

from core.audit import audit_record
from core.errors import InvalidInput
from core.models import Employee, Organization
from enrollment.installers import InstallerFile, InstallerRequest, InstallerUnavailable, installer_backend
from enrollment.models import EnrollmentSettings, InstallerDownload
from enrollment.services.sign_in import employee_actor
from mdm_sync.models import FleetConnection

INSTALLER_LINK_MAX_AGE = 24 * 60 * 60
INSTALLER_LINK_SALT = "enrollment.installer-link"


def _enrollment_settings(organization) -> EnrollmentSettings | None:
    return EnrollmentSettings.objects.for_org(organization).first()


def installer_fleet_url(organization) -> str:
    stored = _enrollment_settings(organization)
    if stored and stored.fleet_url:
        return stored.fleet_url
    connection = FleetConnection.objects.for_org(organization).first()
    return connection.url if connection else ""


def installers_ready(organization) -> bool:
    stored = _enrollment_settings(organization)
    return bool(stored and stored.has_enroll_secret and installer_fleet_url(organization))


def installer_link_token(*, employee: Employee, platform: str, fmt: str) -> str:
    """A personal, unguessable, expiring link token (signed with the server's key)."""
    payload = {"o": employee.organization_id, "e": employee.pk, "p": platform, "f": fmt}
    return signing.dumps(payload, salt=INSTALLER_LINK_SALT, compress=True)


def installer_link_resolve(*, organization: Organization, token: str) -> tuple[Employee, str, str]:
    """The active employee, platform and format a link names; InvalidInput for anything else (the view: 404)."""
    try:
        payload = signing.loads(token, salt=INSTALLER_LINK_SALT, max_age=INSTALLER_LINK_MAX_AGE)
    except signing.BadSignature as exc:
        raise InvalidInput(gettext("Unknown or expired installer link.")) from exc
    if not isinstance(payload, dict) or payload.get("o") != organization.pk:
        raise InvalidInput(gettext("Unknown or expired installer link."))
    employee = Employee.objects.for_org(organization).filter(pk=payload.get("e"), status=Employee.Status.ACTIVE).first()
    platform, fmt = payload.get("p"), payload.get("f")
    if employee is None or fmt not in {f for f, _ in installer_backend().formats(platform)}:
        raise InvalidInput(gettext("Unknown or expired installer link."))
    return employee, platform, fmt


def installer_build(*, employee: Employee, platform: str, fmt: str, client_address: str | None = None) -> InstallerFile:
    """Build the employee's installer and record the download (DESIGN §5.3)."""
    organization = employee.organization
    stored = _enrollment_settings(organization)
    fleet_url = installer_fleet_url(organization)
    if stored is None or not stored.has_enroll_secret or not fleet_url:
        raise InvalidInput(gettext("Installers are not set up yet: ask your IT team."))
    backend = installer_backend()
    request = InstallerRequest(
        organization_name=organization.name, fleet_url=fleet_url, enroll_secret=stored.enroll_secret,
        end_user_email=employee.email, platform=platform, format=fmt,
        package_url=getattr(stored, f"package_url_{platform}", ""),
    )
    try:
        built = backend.build(request)
    except InstallerUnavailable as exc:
        raise InvalidInput(str(exc)) from exc
    with transaction.atomic():
        InstallerDownload.objects.create(
            organization=organization, employee=employee, platform=platform, format=fmt, backend=backend.name,
            filename=built.filename, client_address=client_address or None,
        )
        audit_record(organization=organization, actor=employee_actor(employee),
                     event="enrollment.installer_downloaded", target=employee, source="enrollment",
                     after={"platform": platform, "format": fmt, "backend": backend.name})
    return built
