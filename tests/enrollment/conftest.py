import pytest


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Enrollment queues its e-mails as Celery tasks after commit (the sign-in code, bulk invitations): here
    they run in the test's process, so ``mail.outbox`` holds them once the on-commit callbacks ran."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
