def cockpit(request):
    """The current organization, the user's role, and the organizations for the switcher."""
    user = getattr(request, "user", None)
    memberships = []
    if user is not None and user.is_authenticated and getattr(request, "organization", None):
        from cockpit.selectors import memberships_of

        # OrganizationMiddleware read them for this request already.
        memberships = getattr(request, "user_memberships", None)
        if memberships is None:
            memberships = memberships_of(user=user)
    return {
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
        "user_memberships": memberships,
    }
