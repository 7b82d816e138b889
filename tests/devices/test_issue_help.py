from devices.issues import ISSUE_HELP
from devices.models import EnrollmentIssue


def test_every_issue_has_its_why_and_what_to_do():
    assert set(ISSUE_HELP) == set(EnrollmentIssue.values)
    for help in ISSUE_HELP.values():
        assert help.title and len(help.why) > 40 and len(help.admin) > 30


def test_device_page_shows_each_issue_with_its_troubleshooting(cockpit_client, org, device):
    device.enrollment_issues = ["agent_missing", "offline"]
    device.save()
    body = cockpit_client.get(f"/o/{org.slug}/devices/{device.pk}/").content.decode()
    assert ISSUE_HELP["agent_missing"].admin in body
    assert "re-enroll" in ISSUE_HELP["offline"].admin and ISSUE_HELP["offline"].admin in body
    assert "30 minutes" in body
