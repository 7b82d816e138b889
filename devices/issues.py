"""What each enrollment issue means and who does what about it (DESIGN §3, the help-center pages).

``admin`` is shown on the device page; ``employee`` on the employee's enrollment page, where the
employee can act. After the fix, the device shows as enrolled within one sync period (30 minutes).
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from devices.models import EnrollmentIssue


@dataclass(frozen=True)
class IssueHelp:
    """Each text is kept lazy and read as a plain string in the active language (callers join and store them)."""

    code: str
    title_text: Promise
    why_text: Promise
    admin_text: Promise
    employee_text: Promise | str = ""

    @property
    def title(self) -> str:
        return str(self.title_text)

    @property
    def why(self) -> str:
        return str(self.why_text)

    @property
    def admin(self) -> str:
        return str(self.admin_text)

    @property
    def employee(self) -> str:
        return str(self.employee_text)


ISSUE_HELP = {
    help.code: help
    for help in (
        IssueHelp(
            EnrollmentIssue.ENROLLMENT_INCOMPLETE, _("Enrollment incomplete"),
            _("An installer was downloaded but no device reported within 24 hours, or the device never finished "
              "enrolling in the MDM (steps skipped, or not connected long enough to synchronise)."),
            _("Ask the employee to resume enrollment from their enrollment page."),
            _("Open your enrollment page and resume the steps for this device; keep it online until it shows as "
              "enrolled."),
        ),
        IssueHelp(
            EnrollmentIssue.AGENT_MISSING, _("Agent missing"),
            _("The MDM is on, but the Fleet agent (fleetd) is not installed: it was uninstalled, removed by a "
              "script, or the installation did not complete (mostly on macOS)."),
            _("Ask the employee to download the agent again from their enrollment page (device panel)."),
            _("Open your enrollment page, select this device and download the agent again."),
        ),
        IssueHelp(
            EnrollmentIssue.AGENT_INACTIVE, _("Agent inactive"),
            _("The agent is installed but has stopped reporting while the device is otherwise alive: the osquery "
              "service stopped, a permission problem keeps it from starting, or a firewall or proxy blocks Fleet."),
            _("Ask the employee to restart the device or reinstall the agent; check that the network lets it "
              "reach the Fleet server."),
            _("Restart your device. If this stays, download and install the agent again from your enrollment page."),
        ),
        IssueHelp(
            EnrollmentIssue.MDM_PROFILE_MISSING, _("MDM profile missing (macOS)"),
            _("The MDM profile was removed or is no longer valid while the agent still reports: an admin user "
              "removed it, Apple push (APNs) problems invalidated it, or MDM was turned off for this device."),
            _("Ask the employee to follow the macOS installation steps again."),
            _("Follow the macOS installation steps on your enrollment page again to reinstall the profile."),
        ),
        IssueHelp(
            EnrollmentIssue.OFFLINE, _("Offline"),
            _("Nothing has been heard from the device for longer than the organization's offline threshold."),
            _("Ask the employee to re-enroll the device. Auto-unenrollment (Settings) can do this automatically "
              "and invite the employee again."),
            _("Connect the device to the internet. If it still shows offline, enroll it again from your page."),
        ),
        IssueHelp(
            EnrollmentIssue.APNS_CERTIFICATE_EXPIRED, _("Apple push certificate expired"),
            _("The organization's Apple Push Notification certificate has expired: Apple devices no longer "
              "receive MDM commands."),
            _("An admin renews the APNs certificate in Fleet; no action is needed on the devices."),
        ),
        IssueHelp(
            EnrollmentIssue.OTHER_MDM, _("Managed by another MDM"),
            _("Fleet reports that another MDM server manages this device."),
            _("Migrate the device: release it from the other MDM (or Apple Business Manager assignment), then "
              "enroll it in Fleet."),
        ),
    )
}
assert set(ISSUE_HELP) == set(EnrollmentIssue.values), "every enrollment issue needs its help text"


def issue_help(codes) -> list[IssueHelp]:
    return [ISSUE_HELP[code] for code in codes if code in ISSUE_HELP]
