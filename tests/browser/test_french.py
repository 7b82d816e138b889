"""The cockpit in French in a real browser: a French browser gets French pages (dates too), and the switcher in the
top bar changes the language of the next page and remembers it for the signed-in user."""

import pytest

from core.models import UserPreference
from tests.browser.accounts import cockpit_user, sign_in
from tests.factories import DeviceFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_french_browser_gets_french_pages_and_the_switcher_remembers_english(live_server, browser):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = cockpit_user(org)
    DeviceFactory(organization=org, name="alice-mbp")
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    base = live_server.url
    try:
        page.goto(f"{base}/login/")
        assert page.get_attribute("html", "lang") == "fr"
        sign_in(page, base, lands_on=f"/o/{org.slug}/")
        assert "Tableau de bord" in page.inner_text("nav, header")

        page.goto(f"{base}/o/{org.slug}/devices/")
        assert "Appareils" in page.inner_text("h1") and "alice-mbp" in page.inner_text("table")

        page.select_option("select[name=language]", "en")  # the top bar's switcher
        page.wait_for_load_state()
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert "Devices" in page.inner_text("h1")
        assert UserPreference.objects.get(user=admin).language == "en"  # saved for the signed-in user
    finally:
        context.close()
