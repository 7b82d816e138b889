"""Whose language a page speaks (issue #14): a signed-in user's preference beats the switcher's cookie and the
browser; choosing in the switcher while signed in saves it; the API's error ``detail`` follows ``Accept-Language``
while its ``code`` stays the same."""

from django.conf import settings
from django.urls import reverse

from core.languages import SESSION_KEY, user_language
from core.models import Employee, UserPreference
from tests.cockpit.pages import url
from tests.conftest import assert_error, member


def test_the_preferences_page_saves_the_language_and_the_next_page_speaks_it(cockpit_client, admin_user, org):
    page = reverse("account_preferences")
    assert cockpit_client.get(page, HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    response = cockpit_client.post(page, {"language": "fr"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert response.redirect_chain == [(page, 302)]
    assert "Vos préférences ont été enregistrées." in response.content.decode()  # already in the new language
    assert UserPreference.objects.get(user=admin_user).language == "fr"
    listing = cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert listing["Content-Language"] == "fr"  # the preference beats the browser
    assert "Ajouter un appareil" in listing.content.decode()


def test_the_preference_beats_the_switcher_cookie_and_follows_the_user_to_a_new_session(client, admin_user, org):
    UserPreference.objects.create(user=admin_user, language="fr")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(admin_user)
    assert client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"
    assert client.session[SESSION_KEY] == "fr"  # read once, then kept in the session


def test_no_preference_leaves_the_browser_in_charge(cockpit_client, org, admin_user):
    assert cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "fr"
    assert cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "en"
    assert not UserPreference.objects.filter(user=admin_user).exists()


def test_choosing_in_the_switcher_while_signed_in_saves_the_preference(cockpit_client, admin_user, org):
    response = cockpit_client.post(reverse("set_language"), {"language": "fr", "next": url("device_list", org)})
    assert response.status_code == 302 and response["Location"] == url("device_list", org)
    assert UserPreference.objects.get(user=admin_user).language == "fr"
    assert cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"
    cockpit_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert UserPreference.objects.get(user=admin_user).language == "en"
    assert cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="fr")["Content-Language"] == "en"


def test_the_switcher_signed_out_saves_nothing(client, admin_user):
    assert client.post(reverse("set_language"), {"language": "fr", "next": "/"}).status_code == 302
    assert not UserPreference.objects.exists()


def test_an_unknown_language_is_refused_and_changes_nothing(cockpit_client, admin_user):
    UserPreference.objects.create(user=admin_user, language="fr")
    response = cockpit_client.post(reverse("account_preferences"), {"language": "de"})
    assert response.status_code == 400
    assert UserPreference.objects.get(user=admin_user).language == "fr"


def test_the_preferences_page_needs_a_sign_in(client):
    response = client.get(reverse("account_preferences"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_user_menu_links_to_the_preferences(cockpit_client, org):
    assert reverse("account_preferences") in cockpit_client.get(url("device_list", org)).content.decode()


def test_an_admin_mail_language_is_their_preference_else_the_organization(org):
    admin = member(org, email="ops@acme.test")
    assert user_language(admin, org) == "en"
    org.language = "fr"
    assert user_language(admin, org) == "fr"
    UserPreference.objects.create(user=admin, language="en")
    assert user_language(admin, org) == "en"


def test_the_api_error_detail_follows_accept_language_and_the_code_does_not(api, org, employee):
    payload = {"email": employee.email, "full_name": "Twin"}
    english = assert_error(api.post("/api/v1/employees/", payload, format="json", HTTP_ACCEPT_LANGUAGE="en"), 400,
                           field="email")
    french = assert_error(api.post("/api/v1/employees/", payload, format="json", HTTP_ACCEPT_LANGUAGE="fr"), 400,
                          field="email")
    assert english["code"] == french["code"] == "invalid"
    assert "already exists" in english["detail"]
    assert "existe déjà" in french["detail"] and "already" not in french["detail"]
    assert Employee.objects.filter(email=employee.email).count() == 1


def test_the_api_employee_language_is_optional_nullable_and_checked(api, org):
    created = api.post("/api/v1/employees/", {"email": "lea@acme.test"}, format="json")
    assert created.status_code == 201 and created.json()["language"] is None
    pk = created.json()["id"]
    changed = api.patch(f"/api/v1/employees/{pk}/", {"language": "fr"}, format="json")
    assert changed.status_code == 200 and changed.json()["language"] == "fr"
    assert_error(api.patch(f"/api/v1/employees/{pk}/", {"language": "de"}, format="json"), 400, field="language")
    assert Employee.objects.get(pk=pk).language == "fr"
    assert api.patch(f"/api/v1/employees/{pk}/", {"language": None}, format="json").json()["language"] is None


def test_the_employee_form_edits_the_language(cockpit_client, org, employee):
    response = cockpit_client.post(url("employee_edit", org, employee.pk), {
        "email": employee.email, "full_name": employee.full_name, "language": "fr"})
    assert response.status_code == 302
    employee.refresh_from_db()
    assert employee.language == "fr"
