from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.jobs import job_execute
from core.jobs import jobs_sweep as sweep_lapsed_jobs


@shared_task
def clear_expired_sessions() -> dict:
    """Daily housekeeping: drop cockpit sessions past their expiry."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"deleted": deleted}


@shared_task(acks_late=True)
def job_run(job_id: int) -> dict:
    """Run one job (``core.jobs``), queued by name by ``core.jobs.job_start``. A redelivery of a finished job, or of
    one whose lease a live run holds, does nothing."""
    return job_execute(job_id=job_id)


@shared_task
def jobs_sweep() -> dict:
    """Every 2 minutes (beat): running jobs whose worker died are re-run when safe, otherwise marked abandoned."""
    return sweep_lapsed_jobs()
