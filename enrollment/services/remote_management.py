"""The remote management settings (the Fleet URL, enroll secret and package URLs installers use) and the
legal-hold exemption from auto-unenrollment. The purge itself is ``enrollment.unenroll``."""

from django.db import transaction
from django.utils.translation import gettext

from core.actors import Actor
from core.audit import audit_record
from core.errors import InvalidInput
from core.models import Organization
from devices.models import Device
from enrollment.models import EnrollmentSettings


def enrollment_settings_save(*, organization: Organization, actor: Actor, enroll_secret: str | None = None,
                             **fields) -> EnrollmentSettings:
    """``enroll_secret=None`` keeps the stored secret; the other fields are the package URLs and Fleet URL."""
    allowed = {"fleet_url", "package_url_macos", "package_url_windows", "package_url_linux"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(gettext("Unknown setting: %(names)s") % {
            "names": ', '.join(sorted(unknown))}, field=sorted(unknown)[0])
    with transaction.atomic():
        current = (EnrollmentSettings.objects.for_org(organization).select_for_update().first()
                   or EnrollmentSettings(organization=organization))
        before = {key: getattr(current, key) for key in sorted(allowed)}
        for key, value in fields.items():
            setattr(current, key, (value or "").strip())
        secret_changed = False
        if enroll_secret is not None:
            enroll_secret = enroll_secret.strip()
            if not enroll_secret:
                raise InvalidInput(gettext("The enroll secret cannot be empty."), field="enroll_secret")
            secret_changed = True
            current.enroll_secret = enroll_secret
        current.save()
        after = {key: getattr(current, key) for key in sorted(allowed)}
        changed = {k for k in after if after[k] != before[k]}
        if changed or secret_changed:
            audit_record(
                organization=organization, actor=actor, event="enrollment.settings_updated", target=organization,
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed} | ({"enroll_secret": "changed"} if secret_changed else {}),
            )
    return current


def device_set_auto_unenroll_exempt(*, device: Device, exempt: bool, actor: Actor) -> Device:
    """Legal hold: an exempt device is never purged by auto-unenrollment."""
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk, organization_id=device.organization_id)
        if locked.auto_unenroll_exempt == exempt:
            return locked
        locked.auto_unenroll_exempt = exempt
        locked.save(update_fields=["auto_unenroll_exempt", "updated_at"])
        audit_record(organization=locked.organization, actor=actor, event="enrollment.exemption_changed",
                     target=locked, before={"exempt": not exempt}, after={"exempt": exempt})
    return locked
