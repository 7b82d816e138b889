"""Employees read their e-mails and their enrollment page in their language, else their organization's
(issue #14); an organization without one leaves the page to the browser and writes e-mails in English."""

from html import unescape

import pytest
from django.core import mail
from django.urls import reverse

from core.models import Organization
from devices.models import EnrollmentIssue
from enrollment import services
from enrollment.public_views import SESSION_KEY
from tests.factories import DeviceFactory, EmployeeFactory


@pytest.fixture
def people(org):
    french = EmployeeFactory(organization=org, full_name="Léa Martin", email="lea@acme.test", language="fr")
    english = EmployeeFactory(organization=org, full_name="Ann Smith", email="ann@acme.test", language="en")
    unset = EmployeeFactory(organization=org, full_name="Sam Doe", email="sam@acme.test")
    return french, english, unset


def _invite(employees, actor, capture):
    with capture(execute=True):
        for employee in employees:
            services.invitation_send(employee=employee, actor=actor)
    return {message.to[0]: message for message in mail.outbox}


def test_a_french_employee_gets_a_french_invitation_and_an_english_one_english(
        org, people, actor, django_capture_on_commit_callbacks):
    french, english, _unset = people
    sent = _invite([french, english], actor, django_capture_on_commit_callbacks)
    fr, en = sent[french.email], sent[english.email]
    assert fr.subject == "Acme\u00a0: inscrivez vos appareils"  # French typography: a no-break space before ":"
    assert "Bonjour Léa Martin," in fr.body and "Hello" not in fr.body
    assert "Ouvrir ma page d’inscription" in unescape(fr.alternatives[0][0])
    assert '<html lang="fr">' in fr.alternatives[0][0]
    assert en.subject == "Enroll your devices with Acme"
    assert "Hello Ann Smith," in en.body and "Bonjour" not in en.body
    assert '<html lang="en">' in en.alternatives[0][0]


def test_an_employee_without_a_language_gets_the_organization_one(org, people, actor,
                                                                   django_capture_on_commit_callbacks):
    _french, english, unset = people
    Organization.objects.filter(pk=org.pk).update(language="fr")
    unset.refresh_from_db()
    english.refresh_from_db()
    sent = _invite([unset, english], actor, django_capture_on_commit_callbacks)
    assert sent[unset.email].subject.endswith("inscrivez vos appareils")
    assert sent[english.email].subject.startswith("Enroll your devices")  # their own language comes first


def test_the_mail_language_does_not_follow_the_request(org, people, actor, django_capture_on_commit_callbacks):
    _french, english, _unset = people
    from django.utils import translation
    with translation.override("fr"):
        sent = _invite([english], actor, django_capture_on_commit_callbacks)
    assert sent[english.email].subject == "Enroll your devices with Acme"


def test_fix_instructions_and_sign_in_codes_speak_the_employee_language(org, people, actor,
                                                                        django_capture_on_commit_callbacks):
    french, _english, _unset = people
    device = DeviceFactory(organization=org, name="lea-mbp", assignee=french, availability_status="in_use",
                           assignment_status="assigned", enrollment_issues=[EnrollmentIssue.OFFLINE])
    with django_capture_on_commit_callbacks(execute=True):
        services.fix_instructions_send(organization=org, devices=[device], actor=actor)
    message = mail.outbox[-1]
    assert message.subject == "Action requise sur lea-mbp (Acme)"
    assert "Bonjour Léa Martin," in message.body
    assert "Hello" not in message.body


def _sign_in(client, org, employee):
    session = client.session
    session[SESSION_KEY] = {str(org.pk): employee.pk}
    session.save()


def test_the_enrollment_page_follows_the_employee_then_the_organization(client, org, people):
    french, english, unset = people
    page = reverse("enroll_home", args=[org.slug])
    _sign_in(client, org, french)
    response = client.get(page, HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "fr" and '<html lang="fr">' in response.content.decode()
    _sign_in(client, org, english)
    assert client.get(page, HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "en"
    Organization.objects.filter(pk=org.pk).update(language="fr")
    _sign_in(client, org, unset)
    assert client.get(page, HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"


def test_the_sign_in_page_speaks_the_organization_language_else_the_browser(client, org):
    page = reverse("enroll_home", args=[org.slug])
    assert client.get(page, HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "fr"  # no language: the browser's
    Organization.objects.filter(pk=org.pk).update(language="en")
    response = client.get(page, HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "en" and "Send me a code" in response.content.decode()


def test_the_remote_management_page_edits_the_organization_language(cockpit_client, org):
    page = reverse("remote_management", args=[org.slug])
    form = cockpit_client.get(page).context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (None, False)}
    data |= {"language": "fr", "auto_unenroll_action": "delete_host"}
    response = cockpit_client.post(page, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    org.refresh_from_db()
    assert org.language == "fr"
