"""Enrollment state changes (DESIGN §5, §9), one module per subdomain:

- ``invitations``: invitations, one, a selection or a batch of chunk tasks; the invitation on employee creation.
- ``sign_in``: the enrollment page's one-time code or link and its rate limits.
- ``installers``: user-specific installers, their signed links and downloads.
- ``fix_instructions``: the steps e-mailed to a device's owner for its enrollment issues.
- ``remote_management``: the enrollment settings and the legal-hold exemption from auto-unenrollment.
- ``batches``: what bulk sends share (chunk tasks, their mail session and count, the actor carried to the worker).

Automatic assignment and auto-unenrollment live in ``enrollment.autoassign`` and ``enrollment.unenroll``.
Keyword-only, one transaction each, an audit entry per change; e-mails and tasks leave after the commit (tasks by
name, through ``enrollment.dispatch``: the services never import ``enrollment.tasks``).

The names callers use are re-exported here; tests that change a module's constant patch that module.
"""

from enrollment.services.batches import BULK_MAIL_RETRIES, actor_from_ref, actor_ref
from enrollment.services.fix_instructions import (
    fix_instructions_send,
    fix_instructions_send_bulk,
    fix_instructions_send_chunk,
)
from enrollment.services.installers import (
    installer_build,
    installer_fleet_url,
    installer_link_resolve,
    installer_link_token,
    installers_ready,
)
from enrollment.services.invitations import (
    invitation_send,
    invitation_send_bulk,
    invitation_send_chunk,
    invitation_send_many,
    invite_on_create,
)
from enrollment.services.remote_management import device_set_auto_unenroll_exempt, enrollment_settings_save
from enrollment.services.sign_in import (
    GENERIC_SIGNIN_ERROR,
    SIGNIN_ATTEMPTS_PER_ADDRESS,
    SIGNIN_ATTEMPTS_PER_EMAIL,
    SIGNIN_MAIL_RETRIES,
    SIGNIN_MAX_FAILURES_PER_TOKEN,
    SIGNIN_PAYLOAD_MAX_AGE,
    SIGNIN_REQUESTS_PER_ADDRESS,
    SIGNIN_REQUESTS_PER_EMAIL,
    SIGNIN_TTL,
    RateLimited,
    signin_code_deliver,
    signin_request,
    signin_with_code,
    signin_with_link,
)

__all__ = [
    "BULK_MAIL_RETRIES",
    "GENERIC_SIGNIN_ERROR",
    "SIGNIN_ATTEMPTS_PER_ADDRESS",
    "SIGNIN_ATTEMPTS_PER_EMAIL",
    "SIGNIN_MAIL_RETRIES",
    "SIGNIN_MAX_FAILURES_PER_TOKEN",
    "SIGNIN_PAYLOAD_MAX_AGE",
    "SIGNIN_REQUESTS_PER_ADDRESS",
    "SIGNIN_REQUESTS_PER_EMAIL",
    "SIGNIN_TTL",
    "RateLimited",
    "actor_from_ref",
    "actor_ref",
    "device_set_auto_unenroll_exempt",
    "enrollment_settings_save",
    "fix_instructions_send",
    "fix_instructions_send_bulk",
    "fix_instructions_send_chunk",
    "installer_build",
    "installer_fleet_url",
    "installer_link_resolve",
    "installer_link_token",
    "installers_ready",
    "invitation_send",
    "invitation_send_bulk",
    "invitation_send_chunk",
    "invitation_send_many",
    "invite_on_create",
    "signin_code_deliver",
    "signin_request",
    "signin_with_code",
    "signin_with_link",
]
