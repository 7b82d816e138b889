"""User-specific installers: personal, recorded, carrying the right e-mail, secret and Fleet URL; links that
cannot be guessed, tampered with or used on another organization's page."""

import errno
import plistlib
import re
import stat
import tempfile

import pytest
from django.core import mail, signing
from django.urls import reverse

from core.actors import Actor
from core.models import AuditEvent, Employee
from enrollment import services
from enrollment.installers import BootstrapBackend, FleetctlBackend, installer_backend, verify_script
from enrollment.models import EnrollmentSettings, InstallerDownload
from tests.enrollment.test_signin import ask
from tests.factories import DeviceFactory, EmployeeFactory

SECRET = "enroll-secret-acme-7Hq"
FLEET = "https://fleet.acme.test"


@pytest.fixture
def ready(org):
    services.enrollment_settings_save(organization=org, actor=Actor.system("tests"), enroll_secret=SECRET,
                                      fleet_url=FLEET)
    return org


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace")


def link(employee, platform, fmt):
    token = services.installer_link_token(employee=employee, platform=platform, fmt=fmt)
    return reverse("enroll_installer", kwargs={"enroll_slug": employee.organization.slug, "token": token})


def signed_in(client, org, email):
    ask(client, org, email)  # the e-mail task runs on commit
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].subject).group(1)
    client.post(reverse("enroll_code", kwargs={"enroll_slug": org.slug}), {"email": email, "code": code})
    return client


def test_the_secret_is_stored_encrypted(ready):
    stored = EnrollmentSettings.objects.get(organization=ready)
    assert SECRET not in stored.enroll_secret_encrypted and stored.enroll_secret == SECRET


def test_macos_script_carries_the_employee_email_secret_and_url(client, ready, ada):
    response = client.get(link(ada, "macos", "sh"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="fleet-install-macos-ada.sh"')
    text = response.content.decode()
    assert "END_USER_EMAIL=ada@acme.test" in text and f"ENROLL_SECRET={SECRET}" in text
    assert f"FLEET_URL={FLEET}" in text and "installer -pkg" in text
    assert verify_script(text)
    assert not verify_script(text.replace("ada@acme.test", "eve@acme.test"))  # an edited copy is detected
    download = InstallerDownload.objects.get()
    assert (download.employee, download.platform, download.format, download.backend) == (ada, "macos", "sh",
                                                                                          "bootstrap")
    event = AuditEvent.objects.for_org(ready).get(event="enrollment.installer_downloaded")
    assert event.target_id == str(ada.pk) and event.after["platform"] == "macos"


def test_macos_enrollment_profile_names_the_end_user(client, ready, ada):
    response = client.get(link(ada, "macos", "mobileconfig"))
    profile = plistlib.loads(response.content)
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.fleetdm.fleetd.config"
    assert (payload["EndUserEmail"], payload["EnrollSecret"], payload["FleetURL"]) == ("ada@acme.test", SECRET, FLEET)
    assert response["X-Installer-Signature"]


def test_windows_and_linux_scripts(client, ready, ada):
    windows = client.get(link(ada, "windows", "ps1")).content.decode()
    assert "$EndUserEmail = 'ada@acme.test'" in windows and "END_USER_EMAIL=$EndUserEmail" in windows
    assert f"$EnrollSecret = '{SECRET}'" in windows and verify_script(windows)
    linux = client.get(link(ada, "linux", "sh")).content.decode()
    assert "dpkg -i" in linux and "ORBIT_END_USER_EMAIL" in linux and verify_script(linux)
    assert InstallerDownload.objects.count() == 2


def test_configured_package_url_is_used(client, ready, ada):
    services.enrollment_settings_save(organization=ready, actor=Actor.system("tests"),
                                      package_url_macos="https://cdn.acme.test/fleetd.pkg")
    assert "PACKAGE_URL=https://cdn.acme.test/fleetd.pkg" in client.get(link(ada, "macos", "sh")).content.decode()


def test_each_employee_gets_their_own_installer(client, ready, ada):
    bob = EmployeeFactory(organization=ready, email="bob@acme.test")
    assert link(ada, "macos", "sh") != link(bob, "macos", "sh")
    bobs = client.get(link(bob, "macos", "sh")).content.decode()
    assert "END_USER_EMAIL=bob@acme.test" in bobs and "ada@acme.test" not in bobs


def test_unknown_or_tampered_or_other_employees_link_is_404(client, ready, ada):
    bob = EmployeeFactory(organization=ready, email="bob@acme.test")
    base = reverse("enroll_installer", kwargs={"enroll_slug": ready.slug, "token": "x"}).rsplit("x/", 1)[0]
    assert client.get(base + "not-a-real-token/").status_code == 404
    good = services.installer_link_token(employee=ada, platform="macos", fmt="sh")
    # Point ada's link at bob by rewriting its payload: the signature no longer matches.
    forged = signing.dumps({"o": ready.pk, "e": bob.pk, "p": "macos", "f": "sh"}, key="guess", salt="x")
    assert client.get(base + forged + "/").status_code == 404
    assert client.get(base + good[:-2] + "xx/").status_code == 404
    assert client.get(base + services.installer_link_token(employee=ada, platform="ios", fmt="sh") + "/"
                      ).status_code == 404
    assert not InstallerDownload.objects.exists()


def test_link_of_a_on_b_page_is_404_and_b_never_sees_a_secret(client, ready, other_org, ada):
    token = services.installer_link_token(employee=ada, platform="macos", fmt="sh")
    url = reverse("enroll_installer", kwargs={"enroll_slug": other_org.slug, "token": token})
    response = client.get(url)
    assert response.status_code == 404 and SECRET.encode() not in response.content
    bob = EmployeeFactory(organization=other_org, email="bob@globex.test")
    page = signed_in(client.__class__(), other_org, "bob@globex.test").get(
        reverse("enroll_home", kwargs={"enroll_slug": other_org.slug}))
    assert SECRET.encode() not in page.content and bob.email.encode() in page.content


def test_expired_link_is_404(client, ready, ada, monkeypatch):
    url = link(ada, "macos", "sh")
    monkeypatch.setattr(services.installers, "INSTALLER_LINK_MAX_AGE", -1)
    assert client.get(url).status_code == 404


def test_offboarded_employees_link_is_404(client, ready, ada):
    url = link(ada, "macos", "sh")
    Employee.objects.filter(pk=ada.pk).update(status=Employee.Status.OFFBOARDED)
    assert client.get(url).status_code == 404


def test_not_set_up_answers_clearly_and_records_nothing(client, org, ada):
    response = client.get(link(ada, "macos", "sh"))
    assert response.status_code == 409 and b"not set up" in response.content
    assert not InstallerDownload.objects.exists()


def test_enrollment_page_lists_personal_links_without_the_secret(client, ready, ada):
    page = signed_in(client, ready, "ada@acme.test").get(reverse("enroll_home", kwargs={"enroll_slug": ready.slug}))
    body = page.content.decode()
    assert SECRET not in body
    urls = re.findall(r'href="(/enroll/acme/installer/[^"]+)"', body)
    assert len(urls) == 4  # macOS script + profile, Windows, Linux
    assert client.get(urls[0]).status_code == 200


def test_agent_missing_device_offers_the_agent_again(client, ready, ada):
    DeviceFactory(organization=ready, name="ada-mbp", platform="macos", assignee=ada, availability_status="in_use",
                  assignment_status="assigned", enrollment_status="partially_enrolled",
                  enrollment_issues=["agent_missing"])
    page = signed_in(client, ready, "ada@acme.test").get(reverse("enroll_home", kwargs={"enroll_slug": ready.slug}))
    body = page.content.decode()
    section = body[body.index('class="agent-download"'):]
    url = re.search(r'href="(/enroll/acme/installer/[^"]+)"', section).group(1)
    assert "END_USER_EMAIL=ada@acme.test" in client.get(url).content.decode()


def test_remote_management_page_never_shows_the_secret(cockpit_client, ready):
    page = cockpit_client.get(reverse("remote_management", args=[ready.slug]))
    assert page.status_code == 200 and SECRET.encode() not in page.content
    assert b"saved (encrypted; not shown)" in page.content


# --- the fleetctl backend ---------------------------------------------------------------------


@pytest.fixture
def fake_fleetctl(tmp_path):
    """A stand-in for fleetctl: records its arguments and writes the package it was asked for."""
    script = tmp_path / "fleetctl"
    log = tmp_path / "args.txt"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {log}\n'
        'for a in "$@"; do case "$a" in --type=*) t="${a#--type=}";; esac; done\n'
        'printf "package for %s\\n" "$*" > "fleet-osquery.$t"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def test_fleetctl_backend_is_chosen_when_configured(settings, fake_fleetctl, tmp_path):
    assert isinstance(installer_backend(), BootstrapBackend)
    settings.ENROLLMENT_FLEETCTL_PATH = str(tmp_path / "missing")
    assert isinstance(installer_backend(), BootstrapBackend)
    settings.ENROLLMENT_FLEETCTL_PATH = str(fake_fleetctl[0])
    assert isinstance(installer_backend(), FleetctlBackend)


def test_fleetctl_backend_packages_with_end_user_email(client, settings, ready, ada, fake_fleetctl):
    script, log = fake_fleetctl
    settings.ENROLLMENT_FLEETCTL_PATH = str(script)
    response = client.get(link(ada, "windows", "msi"))
    assert response.status_code == 200 and response["Content-Disposition"].endswith('fleetd-ada.msi"')
    args = log.read_text().splitlines()
    assert args[:2] == ["package", "--type=msi"]
    assert f"--fleet-url={FLEET}" in args and f"--enroll-secret={SECRET}" in args
    assert "--end-user-email=ada@acme.test" in args
    assert InstallerDownload.objects.get().backend == "fleetctl"


def test_fleetctl_failure_is_a_clear_answer(client, settings, ready, ada, tmp_path):
    broken = tmp_path / "fleetctl"
    broken.write_text("#!/bin/sh\necho 'signing identity not found' >&2\nexit 3\n")
    broken.chmod(0o755)
    settings.ENROLLMENT_FLEETCTL_PATH = str(broken)
    response = client.get(link(ada, "linux", "deb"))
    assert response.status_code == 409 and b"signing identity not found" in response.content
    assert not InstallerDownload.objects.exists()


def test_a_full_disk_while_building_an_installer_says_so_and_leaves_nothing(client, settings, ready, ada, tmp_path,
                                                                            monkeypatch):
    """fleetctl runs out of room half-way through the package: a clear answer, no download recorded, and the
    partial package goes with its temporary folder. No room for the folder itself: the same."""
    full = tmp_path / "fleetctl"
    full.write_text("#!/bin/sh\nhead -c 4096 /dev/zero > fleet-osquery.deb\n"
                    "echo 'write fleet-osquery.deb: no space left on device' >&2\nexit 1\n")
    full.chmod(0o755)
    settings.ENROLLMENT_FLEETCTL_PATH = str(full)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    response = client.get(link(ada, "linux", "deb"))
    assert response.status_code == 409 and b"no space left on device" in response.content
    assert not InstallerDownload.objects.exists() and not list(scratch.iterdir())

    def no_room(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", no_room)
    response = client.get(link(ada, "linux", "deb"))
    assert response.status_code == 409 and b"could not be built: No space left on device" in response.content
    assert not InstallerDownload.objects.exists()
