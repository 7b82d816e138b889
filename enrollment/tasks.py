"""Enrollment jobs: the hourly auto-unenrollment purge (DESIGN §9), one task per organization that enabled it,
and the e-mails that must not hold up a request: the sign-in code, and bulk invitations and fix instructions
(one task per chunk, each queueing the next; each chunk is idempotent, so a redelivered or retried one sends
nothing twice), with the sweep that picks up a bulk send whose worker died (``services.batches``)."""

from celery import shared_task

from core.actors import Actor
from core.errors import IllegalTransition
from core.models import Organization
from enrollment import services
from enrollment.services.batches import batches_sweep
from enrollment.unenroll import auto_unenroll_run


@shared_task
def auto_unenroll_all_organizations() -> dict:
    organization_ids = list(Organization.objects.filter(auto_unenroll_enabled=True).values_list("pk", flat=True))
    for organization_id in organization_ids:
        auto_unenroll_organization_task.delay(organization_id)
    return {"queued": len(organization_ids)}


@shared_task(acks_late=True)
def auto_unenroll_organization_task(organization_id: int) -> dict:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    try:
        run = auto_unenroll_run(organization=organization, actor=Actor.system("auto-unenrollment"))
    except IllegalTransition:  # a redelivered task while the first still runs
        return {"organization": organization_id, "status": "running"}
    if run is None:
        return {"organization": organization_id, "status": "disabled"}
    return {"organization": organization_id, "run": run.pk, "status": run.status, "purged": len(run.purged_ids)}


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), max_retries=services.SIGNIN_MAIL_RETRIES,
             retry_backoff=5, retry_backoff_max=60, retry_jitter=True)
def signin_code_task(self, payload: str) -> dict:
    """The enrollment page's sign-in e-mail (``services.signin_request`` queues it; the payload is encrypted
    and carries no code). A mail server error is logged by the service and retried here, boundedly."""
    return {"status": services.signin_code_deliver(payload=payload, attempt=self.request.retries)}


BULK_TASK_OPTIONS = {
    "bind": True, "acks_late": True, "autoretry_for": (OSError,), "max_retries": services.BULK_MAIL_RETRIES,
    "retry_backoff": 30, "retry_backoff_max": 600, "retry_jitter": True,
}


@shared_task(**BULK_TASK_OPTIONS)
def invitation_chunk_task(self, organization_id: int, batch_id: int, index: int, employee_ids: list[int],
                          actor: dict, reason: str) -> dict:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return services.invitation_send_chunk(organization=organization, batch_id=batch_id, index=index,
                                          employee_ids=employee_ids, actor=services.actor_from_ref(actor),
                                          reason=reason)


@shared_task(**BULK_TASK_OPTIONS)
def fix_instructions_chunk_task(self, organization_id: int, batch_id: int, index: int, device_ids: list[int],
                                actor: dict) -> dict:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"organization": organization_id, "status": "gone"}
    return services.fix_instructions_send_chunk(organization=organization, batch_id=batch_id, index=index,
                                                device_ids=device_ids, actor=services.actor_from_ref(actor))


@shared_task
def invitation_batches_sweep() -> dict:
    """Every 30 s (beat): bulk sends whose worker died are picked up again, or abandoned saying why."""
    return batches_sweep()
