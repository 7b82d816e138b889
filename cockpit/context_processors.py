from functools import lru_cache

from django.urls import reverse

# The organization pages the top bar links to (templates/base.html reads them as ``nav.<name>``).
NAV_URL_NAMES = (
    "audit_list",
    "csvimport_new",
    "dashboard",
    "device_list",
    "employee_list",
    "fleet_settings",
    "group_list",
    "invitation_list",
    "mfa_settings",
    "offboarding_departed",
    "offboarding_list",
    "offboarding_settings",
    "preassignment_list",
    "remote_management",
    "scim_settings",
    "sso_settings",
    "search",
    "suggestion_list",
    "suggestion_settings",
    "sync_list",
    "token_list",
    "troubleshooting",
    "webhookendpoint_list",
)


@lru_cache(maxsize=4096)
def nav_urls(org_slug: str) -> dict[str, str]:
    """The top bar's links for one organization, reversed once per process instead of on every page."""
    return {name: reverse(name, kwargs={"org_slug": org_slug}) for name in NAV_URL_NAMES}


def cockpit(request):
    """The current organization, the user's role, and the organizations for the switcher."""
    user = getattr(request, "user", None)
    memberships = []
    if user is not None and user.is_authenticated and getattr(request, "organization", None):
        from core.selectors import memberships_of

        # OrganizationMiddleware read them for this request already.
        memberships = getattr(request, "user_memberships", None)
        if memberships is None:
            memberships = memberships_of(user=user)
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
        "user_memberships": memberships,
        "nav": nav_urls(request.organization.slug) if getattr(request, "organization", None) else {},
    }
