"""Organization A's enrollment objects for the tenant-isolation walk; the public enrollment page proves
its own isolation in ``tests/enrollment/test_signin.py`` and ``test_installers.py``."""

from django.utils import timezone

from enrollment.models import AutoUnenrollRun

PUBLIC = {"enroll_home", "enroll_signin", "enroll_code", "enroll_link", "enroll_signout", "enroll_installer"}


def objects(base) -> dict:
    run = AutoUnenrollRun.objects.create(
        organization=base["org"], status=AutoUnenrollRun.Status.BLOCKED, actor_label="tests", threshold_days=30,
        enrolled_count=3, candidate_ids=[base["device"].pk], finished_at=timezone.now(),
    )
    return {"autounenrollrun": run}
