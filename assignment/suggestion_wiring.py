"""Suggestion's audit events, after-sync step and panels, connected from ``AssignmentConfig.ready``."""


def connect() -> None:
    pass
