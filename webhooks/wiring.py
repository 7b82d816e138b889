"""Where webhooks connect to the apps below them, called once from ``WebhooksConfig.ready``."""


def connect() -> None:
    pass
