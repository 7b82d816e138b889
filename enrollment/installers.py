"""User-specific installers (DESIGN §5.3) behind one interface.

A backend turns an :class:`InstallerRequest` (Fleet URL, enroll secret, the employee's e-mail as
end-user e-mail, platform, format) into an :class:`InstallerFile`:

* :class:`FleetctlBackend` runs ``fleetctl package ... --end-user-email`` when ``fleetctl`` is
  installed (``ENROLLMENT_FLEETCTL_PATH`` setting or ``FLEETCTL_PATH`` environment variable);
* :class:`BootstrapBackend` (the default) writes a signed, per-employee bootstrap that installs the
  organization's fleetd package: a shell script for macOS and Linux, PowerShell for Windows, and for
  macOS the enrollment profile carrying ``EndUserEmail`` (Fleet stores it as ``custom_installer``).

Every file is signed with an HMAC of the server's secret key (``signature``; scripts also carry it
in their last line), so support can tell a genuine installer from an edited one.
"""

import os
import plistlib
import shlex
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext, gettext_lazy

SIGNATURE_SALT = "enrollment.installer-signature"
SIGNATURE_MARK = "fleet-cockpit-signature:"

# platform -> [(format, label)], the first is the recommended one.
FORMATS = {
    "macos": [("sh", gettext_lazy("Installer script (Terminal)")),
              ("mobileconfig", gettext_lazy("Enrollment profile"))],
    "windows": [("ps1", gettext_lazy("Installer script (PowerShell)"))],
    "linux": [("sh", gettext_lazy("Installer script (deb or rpm)"))],
}
PLATFORM_LABELS = {"macos": "macOS", "windows": "Windows", "linux": "Linux"}


class InstallerUnavailable(Exception):
    """The backend cannot build this installer now (tool failed, format not offered)."""


@dataclass(frozen=True)
class InstallerRequest:
    organization_name: str
    fleet_url: str
    enroll_secret: str
    end_user_email: str
    platform: str
    format: str
    package_url: str = ""


@dataclass(frozen=True)
class InstallerFile:
    filename: str
    content_type: str
    content: bytes
    signature: str


def sign(content: bytes) -> str:
    return salted_hmac(SIGNATURE_SALT, content, algorithm="sha256").hexdigest()


def verify_script(text: str) -> bool:
    """A bootstrap script's last line holds the signature of everything before it."""
    body, _, last = text.rstrip("\n").rpartition("\n")
    marker = last.split(SIGNATURE_MARK, 1)
    return len(marker) == 2 and constant_time_compare(marker[1].strip(), sign((body + "\n").encode()))


class InstallerBackend:
    name = ""

    def formats(self, platform: str) -> list[tuple[str, str]]:
        return FORMATS.get(platform, [])

    def build(self, request: InstallerRequest) -> InstallerFile:
        raise NotImplementedError


def _sh(value: str) -> str:
    return shlex.quote(value)


def _ps(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fleet_download(fleet_url: str, kind: str) -> str:
    """Fleet's own installer download (Premium), used when no package URL is configured."""
    return f"{fleet_url.rstrip('/')}/api/latest/fleet/download_installer/{kind}?desktop=true"


class BootstrapBackend(InstallerBackend):
    name = "bootstrap"

    def build(self, request: InstallerRequest) -> InstallerFile:
        slug = request.end_user_email.split("@")[0].replace(".", "-")[:40] or "employee"
        if request.format == "mobileconfig" and request.platform == "macos":
            content = self._profile(request)
            return InstallerFile(f"fleet-enrollment-{slug}.mobileconfig", "application/x-apple-aspen-config",
                                 content, sign(content))
        if request.format == "sh" and request.platform in ("macos", "linux"):
            text = self._shell(request)
            name = f"fleet-install-{request.platform}-{slug}.sh"
            return self._signed_script(name, "text/x-shellscript", text, comment="#")
        if request.format == "ps1" and request.platform == "windows":
            return self._signed_script(f"fleet-install-windows-{slug}.ps1", "text/plain", self._powershell(request),
                                       comment="#")
        raise InstallerUnavailable(f"No {request.format} installer for {request.platform}.")

    @staticmethod
    def _signed_script(filename: str, content_type: str, text: str, *, comment: str) -> InstallerFile:
        body = text if text.endswith("\n") else text + "\n"
        signature = sign(body.encode())
        content = f"{body}{comment} {SIGNATURE_MARK} {signature}\n".encode()
        return InstallerFile(filename, content_type, content, signature)

    def _header(self, request: InstallerRequest) -> str:
        return (f"# Fleet enrollment for {request.end_user_email} ({request.organization_name}).\n"
                "# Personal installer: it enrolls this computer in your organization's device management\n"
                "# and names you as its user. Do not share it.\n")

    def _shell(self, request: InstallerRequest) -> str:
        if request.platform == "macos":
            package = request.package_url or _fleet_download(request.fleet_url, "pkg")
            install = ('curl -fsSL "$PACKAGE_URL" -o "$TMP/fleetd.pkg"\n'
                       'sudo installer -pkg "$TMP/fleetd.pkg" -target /\n')
        else:
            package = request.package_url or _fleet_download(request.fleet_url, "deb")
            install = ('curl -fsSL "$PACKAGE_URL" -o "$TMP/fleetd.pkg"\n'
                       'if command -v dpkg >/dev/null 2>&1; then sudo dpkg -i "$TMP/fleetd.pkg"; '
                       'else sudo rpm -i "$TMP/fleetd.pkg"; fi\n')
        return (
            "#!/bin/sh\n" + self._header(request) + "set -eu\n"
            f"FLEET_URL={_sh(request.fleet_url)}\n"
            f"ENROLL_SECRET={_sh(request.enroll_secret)}\n"
            f"END_USER_EMAIL={_sh(request.end_user_email)}\n"
            f"PACKAGE_URL={_sh(package)}\n"
            'TMP="$(mktemp -d)"\n'
            "trap 'rm -rf \"$TMP\"' EXIT\n"
            "# fleetd reads its enrollment from these variables (orbit --fleet-url/--enroll-secret/--end-user-email).\n"
            'sudo mkdir -p /etc/default\n'
            'printf "ORBIT_FLEET_URL=%s\\nORBIT_ENROLL_SECRET=%s\\nORBIT_END_USER_EMAIL=%s\\n" '
            '"$FLEET_URL" "$ENROLL_SECRET" "$END_USER_EMAIL" | sudo tee /etc/default/orbit >/dev/null\n'
            + install +
            'echo "Done. Your device shows as enrolled on your enrollment page within 30 minutes."\n'
        )

    def _powershell(self, request: InstallerRequest) -> str:
        package = request.package_url or _fleet_download(request.fleet_url, "msi")
        return (
            self._header(request) + "$ErrorActionPreference = 'Stop'\n"
            f"$FleetUrl = {_ps(request.fleet_url)}\n"
            f"$EnrollSecret = {_ps(request.enroll_secret)}\n"
            f"$EndUserEmail = {_ps(request.end_user_email)}\n"
            f"$PackageUrl = {_ps(package)}\n"
            '$Msi = Join-Path $env:TEMP "fleetd.msi"\n'
            "Invoke-WebRequest -UseBasicParsing -Uri $PackageUrl -OutFile $Msi\n"
            'Start-Process msiexec.exe -Wait -ArgumentList @("/i", "`"$Msi`"", "/qn", "FLEET_URL=$FleetUrl", '
            '"FLEET_SECRET=$EnrollSecret", "END_USER_EMAIL=$EndUserEmail")\n'
            "Remove-Item $Msi\n"
            'Write-Output "Done. Your device shows as enrolled on your enrollment page within 30 minutes."\n'
        )

    @staticmethod
    def _profile(request: InstallerRequest) -> bytes:
        """fleetd's configuration profile (payload ``com.fleetdm.fleetd.config``) with ``EndUserEmail``."""
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{request.fleet_url}|{request.end_user_email}")
        payload = {
            "PayloadType": "com.fleetdm.fleetd.config",
            "PayloadIdentifier": "com.fleetdm.fleetd.config",
            "PayloadUUID": str(uuid.uuid5(namespace, "fleetd")).upper(),
            "PayloadVersion": 1,
            "PayloadDisplayName": "Fleet agent configuration",
            "EnrollSecret": request.enroll_secret,
            "FleetURL": request.fleet_url,
            "EndUserEmail": request.end_user_email,
        }
        profile = {
            "PayloadContent": [payload],
            "PayloadDisplayName": f"{request.organization_name} device enrollment",
            "PayloadDescription": f"Enrolls this Mac for {request.end_user_email}.",
            "PayloadIdentifier": f"com.fleetcockpit.enrollment.{namespace.hex[:12]}",
            "PayloadOrganization": request.organization_name,
            "PayloadScope": "System",
            "PayloadType": "Configuration",
            "PayloadUUID": str(namespace).upper(),
            "PayloadVersion": 1,
        }
        return plistlib.dumps(profile)


class FleetctlBackend(InstallerBackend):
    """``fleetctl package`` builds the real fleetd package; macOS gets the end-user e-mail from the profile."""

    name = "fleetctl"
    TYPES = {"windows": ("msi", "application/x-msi"), "linux": ("deb", "application/vnd.debian.binary-package"),
             "macos": ("pkg", "application/octet-stream")}
    TIMEOUT = 600

    def __init__(self, path: str):
        self.path = path

    def formats(self, platform: str) -> list[tuple[str, str]]:
        kind = self.TYPES.get(platform)
        if kind is None:
            return []
        extra = [("mobileconfig", "Enrollment profile")] if platform == "macos" else []
        return [(kind[0], f"fleetd package (.{kind[0]})"), *extra]

    def build(self, request: InstallerRequest) -> InstallerFile:
        if request.format == "mobileconfig":
            return BootstrapBackend().build(request)
        kind, content_type = self.TYPES.get(request.platform, ("", ""))
        if request.format != kind:
            raise InstallerUnavailable(f"No {request.format} package for {request.platform}.")
        command = [self.path, "package", f"--type={kind}", f"--fleet-url={request.fleet_url}",
                   f"--enroll-secret={request.enroll_secret}", "--fleet-desktop"]
        if request.platform != "macos":  # macOS takes the e-mail from the enrollment profile (EndUserEmail)
            command.append(f"--end-user-email={request.end_user_email}")
        try:  # the package is built in a temporary folder, removed with whatever fleetctl left in it
            with tempfile.TemporaryDirectory(prefix="fleetctl-") as workdir:
                try:
                    result = subprocess.run(command, cwd=workdir, capture_output=True, timeout=self.TIMEOUT,
                                            check=False)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    raise InstallerUnavailable(f"fleetctl could not run: {exc.__class__.__name__}") from exc
                built = sorted(Path(workdir).glob(f"*.{kind}"))
                if result.returncode != 0 or not built:
                    reason = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()[-1:]
                    raise InstallerUnavailable(f"fleetctl package failed: {(reason or [''])[0][:200]}")
                content = built[0].read_bytes()
        except OSError as exc:  # no room for the temporary folder (a full disk), or it could not be read back
            raise InstallerUnavailable(gettext("The installer could not be built: %(reason)s. Try again later.")
                                       % {"reason": exc.strerror or exc.__class__.__name__}) from exc
        slug = request.end_user_email.split("@")[0].replace(".", "-")[:40]
        return InstallerFile(f"fleetd-{slug}.{kind}", content_type, content, sign(content))


def installer_backend() -> InstallerBackend:
    path = getattr(settings, "ENROLLMENT_FLEETCTL_PATH", "") or os.environ.get("FLEETCTL_PATH", "")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return FleetctlBackend(path)
    return BootstrapBackend()
