"""A large CSV import's job in a real browser: its progress bar moves without a reload (htmx polls the block), and
the finished job takes the page to the preview."""

import pytest
from django.utils import timezone

from assignment.models import CsvImport
from core import jobs
from core.jobs import Job, job_execute
from core.models import Membership
from tests.factories import GroupFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "browser-test-passphrase-7"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = "Serial Number,User Name,Email Address,Group Name\n" + "".join(
    f"C02JOB{n:03d},u{n},u{n}@acme.test,Sales\n" for n in range(6)
)


def test_the_progress_bar_moves_without_a_reload_then_the_preview_shows(live_server, page, settings, monkeypatch,
                                                                        tmp_path):
    settings.ASSIGNMENT_CSV_SYNC_MAX_ROWS = 2
    queued = []
    monkeypatch.setattr(jobs, "queue_job", queued.append)  # no worker yet: the test plays it below
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = UserFactory(username="alice", email="alice@acme.test")
    admin.set_password(PASSWORD)
    admin.save()
    MembershipFactory(organization=org, user=admin, role=Membership.Role.ADMIN)
    GroupFactory(organization=org, name="Sales")
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/o/{org.slug}/")

    page.goto(f"{base}/o/{org.slug}/pre-assignments/import/")
    path = tmp_path / "large.csv"
    path.write_text(CSV)
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector(".job-progress")
    assert "Waiting for a worker" in page.inner_text("#import-progress")
    page.evaluate("window.notReloaded = true")

    job = Job.objects.get(pk=queued[0])
    Job.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now(), progress_done=3,
                                         progress_phase="Analysing the rows")
    page.wait_for_function("document.querySelector('.job-progress').innerText.includes('3 of 6 (50 %)')")
    assert page.evaluate("window.notReloaded") is True  # swapped in place, not reloaded
    assert page.get_attribute(".job-progress progress", "value") == "3"

    Job.objects.filter(pk=job.pk).update(status="queued", attempts=0)
    job_execute(job_id=job.pk)  # the worker analyses the file
    page.wait_for_selector("#import-summary", timeout=10_000)  # htmx followed the finished job to the preview
    assert page.evaluate("window.notReloaded") is None
    assert CsvImport.objects.get().status == "previewed" and "Preview" in page.inner_text("#import-summary")
    page.screenshot(path=str(tmp_path / "preview.png"))
