"""Django admin (platform operators): enrollment records readable, the enroll secret never shown."""

from django.contrib.auth import get_user_model
from django.urls import reverse

from core.actors import Actor
from enrollment.models import EnrollmentSettings
from enrollment.services import enrollment_settings_save


def test_operator_reads_enrollment_records_without_the_secret(client, org):
    enrollment_settings_save(organization=org, actor=Actor.system("tests"), enroll_secret="op-secret-42")
    client.force_login(get_user_model().objects.create_superuser("root", "root@x.test", "pw-very-long-1"))
    stored = EnrollmentSettings.objects.get()
    for name in ("enrollmentsettings", "invitation", "invitationbatch", "installerdownload", "autounenrollrun"):
        response = client.get(reverse(f"admin:enrollment_{name}_changelist"))
        assert response.status_code == 200 and b"op-secret-42" not in response.content
    detail = client.get(reverse("admin:enrollment_enrollmentsettings_change", args=[stored.pk]))
    assert detail.status_code == 200
    assert b"op-secret-42" not in detail.content and stored.enroll_secret_encrypted.encode() not in detail.content
