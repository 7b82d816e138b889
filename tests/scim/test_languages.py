"""SCIM ``preferredLanguage`` (else ``locale``) ↔ the employee's language, with Okta's and Entra ID's requests
(``tests/scim/idp_requests.py``): RFC 7643 §4.1.1 tags mapped to a language the cockpit speaks (``fr-CA`` → ``fr``),
a tag it does not speak kept for the provider and meaning the organization's language, a malformed one refused."""

import pytest

from core.languages import employee_language
from core.models import AuditEvent, Employee
from core.services import employee_update
from scim.languages import language_of
from tests.factories import EmployeeFactory
from tests.scim import idp_requests as idp
from tests.scim.conftest import assert_scim_error, user_body


def _employee(org, user_id) -> Employee:
    return Employee.objects.for_org(org).get(pk=int(user_id))


@pytest.mark.parametrize(("attributes", "language"), [
    ({"preferredLanguage": "fr-CA"}, "fr"),
    ({"preferredLanguage": "FR"}, "fr"),
    ({"preferredLanguage": "en_US"}, "en"),  # the RFC's own schema example, with an underscore
    ({"preferredLanguage": "de-CH, fr;q=0.9, en;q=0.8"}, "fr"),  # the first the cockpit speaks
    ({"preferredLanguage": "en;q=0.5, fr-BE;q=0.7"}, "fr"),  # by weight, not by order
    ({"preferredLanguage": "fr;q=0, en"}, "en"),  # q=0: not acceptable
    ({"preferredLanguage": "de-DE", "locale": "fr_FR"}, "fr"),  # locale as the fallback
    ({"preferredLanguage": "de-DE"}, None),
    ({"preferredLanguage": "*"}, None),
    ({"locale": "en-GB"}, "en"),
    ({}, None),
])
def test_language_tags_map_to_a_language_the_cockpit_speaks(attributes, language):
    assert language_of(attributes) == language


def test_entra_creates_an_employee_with_their_preferred_language(scim, org):
    status, body = scim.post("/Users", idp.entra_create_user_with_language(language="fr-CA"))
    assert status == 201, body
    employee = _employee(org, body["id"])
    assert employee.language == "fr" and employee_language(employee) == "fr"  # their e-mails are in French
    assert body["preferredLanguage"] == "fr-CA"  # given back as written
    assert scim.get(f"/Users/{body['id']}")[1]["preferredLanguage"] == "fr-CA"
    created = AuditEvent.objects.for_org(org).get(event="employee.created", target_id=body["id"])
    assert created.source == "scim" and created.after["language"] == "fr"


def test_entra_patch_changes_the_language_and_an_unsupported_one_means_the_organizations(scim, org):
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    assert _employee(org, user_id).language is None
    status, body = scim.patch(f"/Users/{user_id}", idp.entra_set_language("fr-FR"))
    assert status == 200 and body["preferredLanguage"] == "fr-FR", body
    assert _employee(org, user_id).language == "fr"
    updated = AuditEvent.objects.for_org(org).get(event="employee.updated", target_id=user_id)
    assert (updated.before, updated.after, updated.source) == ({"language": None}, {"language": "fr"}, "scim")
    # German is not spoken by the cockpit: kept for the provider, the employee has their organization's language.
    status, body = scim.patch(f"/Users/{user_id}", idp.entra_set_language("de-DE"))
    assert status == 200 and body["preferredLanguage"] == "de-DE"
    assert _employee(org, user_id).language is None


def test_okta_put_sets_the_language_from_preferred_language_before_locale(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    assert _employee(org, user_id).language == "en"  # Okta's locale "en-US"
    status, body = scim.put(f"/Users/{user_id}", idp.okta_replace_user(user_id, preferredLanguage="fr-CA"))
    assert status == 200, body
    assert (body["preferredLanguage"], body["locale"]) == ("fr-CA", "en-US")
    assert _employee(org, user_id).language == "fr"


def test_a_language_chosen_in_the_cockpit_stays_while_the_provider_repeats_itself(scim, org, actor):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    employee_update(employee=_employee(org, user_id), actor=actor, language="fr")
    body = scim.get(f"/Users/{user_id}")[1]
    assert body["preferredLanguage"] == "fr" and "locale" not in body  # the cockpit's choice is what SCIM shows
    # Okta's routine PUT of the whole profile, with the locale it always sent: the cockpit's choice stays.
    assert scim.put(f"/Users/{user_id}", idp.okta_replace_user(user_id))[0] == 200
    assert _employee(org, user_id).language == "fr"
    # Something new from the provider applies.
    assert scim.put(f"/Users/{user_id}", idp.okta_replace_user(user_id, locale="en-GB"))[0] == 200
    assert _employee(org, user_id).language == "en"


def test_an_employee_scim_never_wrote_shows_their_language(scim, org):
    employee = EmployeeFactory(organization=org, email="ada@acme.test", language="fr")
    body = scim.get(f"/Users/{employee.pk}")[1]
    assert body["preferredLanguage"] == "fr"
    assert "preferredLanguage" not in scim.get(f"/Users/{EmployeeFactory(organization=org).pk}")[1]


@pytest.mark.parametrize("extra", [
    {"preferredLanguage": "not a language!"},
    {"preferredLanguage": "fr;q=2"},
    {"preferredLanguage": "x" * 201},
    {"locale": "fr CA"},
    {"locale": "da, en"},  # a list is preferredLanguage's syntax, not locale's
])
def test_a_malformed_language_is_refused_like_any_invalid_value(scim, org, extra):
    body = assert_scim_error(scim.post("/Users", user_body("ada@acme.test", **extra)), 400, "invalidValue")
    assert next(iter(extra)) in body["detail"]
    assert not Employee.objects.for_org(org).exists()
    user_id = scim.post("/Users", user_body("bob@acme.test", preferredLanguage="fr"))[1]["id"]
    assert_scim_error(scim.put(f"/Users/{user_id}", user_body("bob@acme.test", **extra)), 400, "invalidValue")
    assert _employee(org, user_id).language == "fr"  # a refused request changes nothing
