"""The cockpit speaks the user's language: the switcher's choice (Django's ``set_language``, a cookie), else the
browser's ``Accept-Language``; English otherwise. The inventory and the device page in French."""

import re
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse

from tests.cockpit.pages import url

# What the top bar says in English. None of it may be left once the page is in French (the words French shares
# with English, "Invitations", "Suggestions", "Webhooks", are left out).
TOP_BAR_ENGLISH = (
    "Dashboard", "Devices", "Employees", "Groups", "Assignment", "Pre-assignments", "Import a CSV", "Enrollment",
    "Troubleshooting", "Offboarding", "Departed with devices", "Sync", "Audit log", "Settings", "Fleet connection",
    "Remote management", "Assignment suggestion", "SCIM provisioning", "API tokens", "Sign out", "Admin",
)


def top_bar_text(response) -> str:
    html = response.content.decode()
    header = re.search(r'<header class="topbar">(.*?)</header>', html, re.S).group(1)
    header = re.sub(r"<option[^>]*>.*?</option>", " ", header, flags=re.S)  # each language names itself
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", header)))


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w'’-]+", text))


def english_left(text: str) -> list[str]:
    return [phrase for phrase in TOP_BAR_ENGLISH if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text)]


@pytest.fixture
def french(client):
    """The switcher: a POST to set_language, which answers with the language cookie."""
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    return client


def test_english_by_default_with_every_top_bar_word(cockpit_client, org):
    response = cockpit_client.get(url("device_list", org))
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in response.content.decode()
    assert len(english_left(top_bar_text(response))) == len(TOP_BAR_ENGLISH)  # the list above is the real top bar


def test_the_inventory_in_french_from_the_browser(cockpit_client, org, assigned_device):
    response = cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    html = response.content.decode()
    assert '<html lang="fr">' in html
    for french_words in ("Appareils", "Ajouter un appareil", "Exporter en CSV", "Disponibilité", "Attributaire",
                         "Vu pour la dernière fois", "Filtrer", "Réinitialiser", "En service", "Attribué",
                         "Numéro de série", "1 résultat", "Page 1 sur 1"):
        assert french_words in html, french_words
    assert english_left(top_bar_text(response)) == []
    for english in ("Add a device", "Export CSV", "Last seen", "In use", "Reset", "1 result"):
        assert english not in html, english


def test_the_device_page_in_french_from_the_switcher(french, admin_user, org, assigned_device):
    french.force_login(admin_user)
    response = french.get(url("device_detail", org, assigned_device.pk))
    assert response.status_code == 200
    html = response.content.decode()
    for french_words in ("Propriétaire", "Informations", "Numéro de série", "Plateforme", "Propriété", "Entreprise",
                         "Historique", "Désattribuer", "Remettre en stock", "Archiver", "En service", "Attribué"):
        assert french_words in html, french_words
    assert english_left(top_bar_text(response)) == []
    for english in ("Owner</h2>", "Facts</h2>", "History</h2>", "Return to stock", "Unassign<", "Corporate"):
        assert english not in html, english


def test_the_switcher_cookie_wins_over_the_browser(french, admin_user, org):
    french.force_login(admin_user)
    response = french.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "fr"
    back = french.post(reverse("set_language"), {"language": "en", "next": url("device_list", org)})
    assert back.status_code == 302 and back["Location"] == url("device_list", org)
    response = french.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "en"
    assert "Add a device" in response.content.decode()


def test_dates_follow_the_language(cockpit_client, org, assigned_device):
    assigned_device.created_at = assigned_device.created_at.replace(year=2026, month=3, day=9, hour=14, minute=5)
    assigned_device.save(update_fields=["created_at"])
    english = cockpit_client.get(url("device_detail", org, assigned_device.pk)).content.decode()
    french = cockpit_client.get(url("device_detail", org, assigned_device.pk), HTTP_ACCEPT_LANGUAGE="fr")
    assert "2026-03-09 14:05" in english
    assert "09/03/2026 14:05" in french.content.decode()


def test_a_language_the_cockpit_does_not_speak_is_english(cockpit_client, org):
    response = cockpit_client.get(url("device_list", org), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert response["Content-Language"] == "en"
    assert words("Appareils Réinitialiser").isdisjoint(words(response.content.decode()))


def test_the_enrollment_sign_in_page_follows_the_browser(client, org):
    page = reverse("enroll_home", args=[org.slug])
    french = client.get(page, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for french_words in ('<html lang="fr">', "Inscription des appareils", "Inscrivez vos appareils",
                         "E-mail professionnel", "M'envoyer un code"):
        assert french_words in unescape(french), french_words
    assert "Send me a code" in client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
