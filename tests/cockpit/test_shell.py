"""The shell's look (issue #14 §5): the favicon, the vendored icons and ``{% icon %}``, the top bar (theme switch,
narrow-screen menu, global search) and the search page (cockpit/shell.py, devices/search.py)."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template import Context, Template, loader
from django.test import Client
from django.urls import reverse

from core.models import Membership
from core.templatetags.icons import UnknownIcon
from devices import services as device_services
from devices.search import SEARCH_LIMIT
from tests.conftest import member
from tests.factories import DeviceFactory, EmployeeFactory

# --- favicon ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_favicon_ico_is_served_by_the_app_without_a_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age" in response["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def _icon_links(html: str) -> list[str]:
    return re.findall(r'<link rel="icon" href="([^"]+)"', html)


def test_every_kind_of_page_links_the_favicon(cockpit_client, org):
    links = _icon_links(cockpit_client.get(reverse("dashboard", args=[org.slug])).content.decode())
    assert links == ["/static/cockpit/favicon.svg", "/static/cockpit/favicon-32.png"]
    for response in (Client().get("/login/"), cockpit_client.get("/o/nothing-here/"),
                     cockpit_client.get(f"/enroll/{org.slug}/")):
        assert _icon_links(response.content.decode()) == links, response.status_code
    for url in links:
        assert cockpit_client.get(url).status_code == 200


def test_the_plain_error_pages_have_the_favicon_and_the_theme():
    for name in ("500.html", "503.html"):
        html = loader.render_to_string(name)
        assert "/static/cockpit/favicon.svg" in html and "cockpit-theme" in html and "cockpit.css" in html


# --- icons --------------------------------------------------------------------------------------------------------


def test_icon_tag_inlines_the_vendored_svg_hidden_from_screen_readers():
    html = Template('{% load icons %}{% icon "search" %}').render(Context())
    assert html.startswith('<svg class="icon icon-search"') and html.endswith("</svg>")
    assert 'aria-hidden="true"' in html and 'focusable="false"' in html
    assert "<circle" in html and "license" not in html and "\n" not in html
    assert 'class="icon icon-menu big"' in Template('{% load icons %}{% icon "menu" "big" %}').render(Context())


@pytest.mark.parametrize("name", ["no-such-icon", "../LICENSE", "Search", "search.svg", ""])
def test_an_unknown_icon_is_an_error_not_a_silent_gap(name):
    with pytest.raises(UnknownIcon):
        Template("{% load icons %}{% icon name %}").render(Context({"name": name}))


def test_the_vendored_icons_keep_their_license():
    license_path = finders.find("cockpit/vendor/icons/LICENSE")
    assert license_path and "ISC License" in Path(license_path).read_text(encoding="utf-8")


# --- the top bar --------------------------------------------------------------------------------------------------


def test_top_bar_has_the_theme_switch_the_menu_button_and_the_search(cockpit_client, org):
    html = cockpit_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    head = html.split("</head>")[0]
    # The stored theme is applied in <head>, before the stylesheet: the first paint is already in the right colours.
    assert head.index('localStorage.getItem("cockpit-theme")') < head.index("cockpit.css")
    assert '<meta name="color-scheme" content="light dark">' in head
    for choice in ("light", "dark", "system"):
        assert f'data-theme-choice="{choice}"' in html
    assert 'id="menu-toggle" aria-expanded="false" aria-controls="topbar-menu"' in html
    assert f'action="{reverse("search", args=[org.slug])}"' in html
    assert 'class="icon icon-laptop"' in html  # the main menu's entries carry icons


def test_top_bar_without_an_organization_has_no_search(client, org):
    html = client.get("/login/").content.decode()
    assert 'id="global-search"' not in html and 'id="theme-switch"' in html


# --- the global search --------------------------------------------------------------------------------------------


@pytest.fixture
def people(org, actor):
    ada = EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")
    EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")
    laptop = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001")
    device_services.device_assign(device=laptop, employee=ada, actor=actor)
    DeviceFactory(organization=org, name="lab-ipad", serial_number="DMPLAB0001")
    return {"ada": ada, "laptop": laptop}


def search(client, org, q):
    return client.get(reverse("search", args=[org.slug]), {"q": q})


def test_search_finds_devices_and_employees_by_name_and_email(cockpit_client, org, people):
    response = search(cockpit_client, org, "ada")
    assert response.status_code == 200
    results = response.context["results"]
    assert [d.name for d in results.devices] == ["ada-mbp"]
    assert [e.email for e in results.employees] == ["ada@acme.test"]
    html = response.content.decode()
    assert reverse("device_detail", args=[org.slug, people["laptop"].pk]) in html
    assert reverse("employee_detail", args=[org.slug, people["ada"].pk]) in html
    # A device is found by its assignee's name or e-mail too; an employee by e-mail.
    assert [d.name for d in search(cockpit_client, org, "lovelace").context["results"].devices] == ["ada-mbp"]
    assert [e.full_name for e in search(cockpit_client, org, "grace@").context["results"].employees] == [
        "Grace Hopper"]


def test_an_exact_serial_number_goes_straight_to_the_device(cockpit_client, org, people):
    for typed in ("C02ADA001", " c02ada001 "):
        response = search(cockpit_client, org, typed)
        assert response.status_code == 302
        assert response["Location"] == reverse("device_detail", args=[org.slug, people["laptop"].pk])
    # Part of a serial number is a search, not a jump.
    assert search(cockpit_client, org, "C02ADA").status_code == 200


def test_search_without_a_match_or_without_text(cockpit_client, org, people):
    response = search(cockpit_client, org, "zzz-nothing")
    assert response.status_code == 200 and 'id="search-empty"' in response.content.decode()
    response = cockpit_client.get(reverse("search", args=[org.slug]))
    assert response.status_code == 200 and response.context["results"].empty
    assert 'id="search-devices"' not in response.content.decode()


def test_search_shows_a_page_of_each_kind_and_links_to_the_full_lists(cockpit_client, org,
                                                                      django_assert_max_num_queries):
    DeviceFactory.create_batch(SEARCH_LIMIT + 2, organization=org, name="fleet-box")
    EmployeeFactory.create_batch(SEARCH_LIMIT + 1, organization=org, full_name="Fleet Person")
    with django_assert_max_num_queries(20) as captured:
        response = search(cockpit_client, org, "fleet")
    # Three queries of the search's own (exact serial, devices with their assignee, employees), whatever it finds.
    searched = [q["sql"] for q in captured.captured_queries if '"devices_device"' in q["sql"]
                or q["sql"].startswith('SELECT "cockpit_employee"')]
    assert len(searched) == 3, searched
    results = response.context["results"]
    assert len(results.devices) == SEARCH_LIMIT and results.more_devices
    assert len(results.employees) == SEARCH_LIMIT and results.more_employees
    html = response.content.decode()
    assert f'{reverse("device_list", args=[org.slug])}?search=fleet' in html
    assert f'{reverse("employee_list", args=[org.slug])}?search=fleet' in html


def test_search_is_open_to_viewers_and_answers_only_get(client, org, people):
    client.force_login(member(org, Membership.Role.VIEWER))
    assert search(client, org, "ada").status_code == 200
    assert client.post(reverse("search", args=[org.slug]), {"q": "ada"}).status_code == 405


def test_search_never_finds_another_organizations_objects(cockpit_client, org, other_org, people):
    theirs = DeviceFactory(organization=other_org, name="globex-mbp", serial_number="GLOBEX0001")
    EmployeeFactory(organization=other_org, full_name="Ada Globex", email="ada@globex.test")
    response = search(cockpit_client, org, "GLOBEX0001")
    assert response.status_code == 200 and response.context["results"].empty  # no jump to their device
    results = search(cockpit_client, org, "globex").context["results"]
    assert results.empty
    assert [e.email for e in search(cockpit_client, org, "ada").context["results"].employees] == ["ada@acme.test"]
    assert str(theirs.pk) not in "".join(str(d.pk) for d in results.devices)


def test_search_text_is_escaped_and_kept_in_the_box(cockpit_client, org):
    response = search(cockpit_client, org, '<script>alert("x")</script>')
    html = response.content.decode()
    assert "<script>alert" not in html
    assert 'value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in html
