"""Where SCIM provisioning connects to the apps below it, called once from ``ScimConfig.ready``."""


def connect() -> None:
    pass
