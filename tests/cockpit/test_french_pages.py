"""The pages translated with issue #14 speak French, and the audit log tells its entries in the reader's language."""

from html import unescape

import pytest

from core import services
from tests.cockpit.pages import url

NBSP = "\u00a0"

# Each page, with French that must show and English that must not.
PAGES = [
    ("preassignment_list", ["Pré-attributions", "Nouvelle pré-attribution", "Aucune pré-attribution."],
     ["New pre-assignment", "No pre-assignments."]),
    ("csvimport_new", ["Importer et prévisualiser", "Télécharger le modèle", "Le fichier"],
     ["Upload and preview", "Download the template"]),
    ("suggestion_list", ["Suggestions d’attribution", "Calculer maintenant"], ["Compute now"]),
    ("suggestion_settings", ["Ce que ferait le mode automatique maintenant", "Seuil"], ["What auto mode would do now"]),
    ("invitation_list", ["Employés pas encore inscrits", "Tout le monde est inscrit."], ["Employees not enrolled yet"]),
    ("troubleshooting", ["Appareils partiellement inscrits", "Aucun appareil partiellement inscrit."],
     ["Partially enrolled devices"]),
    ("remote_management", ["Gestion à distance", "Langue des employés", "Activer la désinscription automatique",
                           "Prochaine exécution (aperçu)"], ["Enable auto-unenrollment", "Recent runs"]),
    ("offboarding_list", ["Employés partis qui détiennent encore des appareils", "Date d’effet"],
     ["Effective date", "No offboarding."]),
    ("offboarding_departed", ["Aucun employé parti ne détient d’appareil."], ["No departed employee"]),
    ("offboarding_settings", ["Paramètres des départs", "Décision par défaut"], ["Default decision"]),
]


@pytest.mark.parametrize(("name", "french", "english"), PAGES, ids=[page[0] for page in PAGES])
def test_the_page_in_french(cockpit_client, org, name, french, english):
    response = cockpit_client.get(url(name, org), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    html = unescape(response.content.decode())
    for text in french:
        assert text in html, text
    for text in english:
        assert text not in html, text


def test_audit_sentences_follow_the_reader(cockpit_client, org, actor):
    services.employee_create(organization=org, actor=actor, email="lea@acme.test", full_name="Léa Martin")
    french = unescape(cockpit_client.get(url("audit_list", org), HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    english = unescape(cockpit_client.get(url("audit_list", org), HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "a ajouté l’employé Léa Martin" in french
    assert "added the employee Léa Martin" in english


def test_a_service_error_on_a_page_is_french(cockpit_client, org, employee):
    response = cockpit_client.post(url("employee_create", org), {"email": employee.email}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 400
    assert f"Un employé avec l’e-mail {employee.email} existe déjà." in unescape(response.content.decode())


def test_french_typography_in_the_messages(cockpit_client, org):
    html = unescape(cockpit_client.get(url("remote_management", org), HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    assert f"Secret d’inscription{NBSP}: non défini" in html  # a no-break space before the colon
