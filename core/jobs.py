"""Jobs: work that grows with its input leaves the request (issue #12 §2, DESIGN §10).

A request that would take longer than a web worker may (a CSV commit of 100,000 rows, a bulk action) starts a
:class:`Job` instead and answers ``202`` with it: the API's ``/api/v1/jobs/{id}/`` and the cockpit's progress bar
(``templates/core/job_progress.html``) show its status, progress and, once over, its result or error.

- **Kinds.** Apps register a handler per kind from their ``wiring.py`` (:func:`register_job_kind`), the way they
  register audit events and hook steps, so the core never imports them. A handler takes a :class:`JobRun` and
  returns the job's result (a small JSON-able dict); it raises :class:`JobFailed` (or a domain error) to fail.
- **Starting.** :func:`job_start` creates the row (``queued``) and queues the one generic task
  (``core.tasks.job_run``) by name once the caller's transaction commits. A broker that is down fails the job at
  once and raises :class:`~core.errors.ServiceUnavailable` (503): nothing stays queued forever.
- **Running.** :func:`job_execute` holds the job's lease (``core.leases``, ``job:<id>``) renewed by a heartbeat.
  A redelivered task for a finished job, or for one whose lease is live, does nothing. Progress
  (:meth:`JobRun.progress`) is written by a thread on its own database connection, so it shows while the
  handler's own transaction is still open (PostgreSQL; SQLite has one writer: it shows once that transaction
  ends). :meth:`JobRun.succeed` called inside the handler's last transaction commits the job's outcome with the
  work, and refuses (:class:`~core.leases.LeaseLost`, rolling the work back) if the job was meanwhile abandoned.
- **Dead workers.** A worker killed mid-job stops renewing: within ``JOB_LEASE_SECONDS`` its lease lapses, and
  the periodic :func:`jobs_sweep` (or a redelivered task) re-runs the job if its kind is safe to re-run
  (at most :data:`MAX_RUNS` runs), or marks it ``abandoned``, saying when and why.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, models, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.actors import Actor, current_request_id
from core.dispatch import enqueue, enqueue_or_log
from core.errors import DomainError, ServiceUnavailable
from core.leases import JobLease, Lapsed, Lease, LeaseLost, lease_acquire
from core.tenancy import TenantModel

logger = logging.getLogger(__name__)

JOB_TASK = "core.tasks.job_run"
MAX_RUNS = 3  # a kind safe to re-run is run at most this many times (a file that kills its worker each time stops)
PROGRESS_INTERVAL = 0.5  # seconds between two progress writes of one run


class Job(TenantModel):
    """One piece of long work for an organization: who asked, what, how far it is and how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ABANDONED = "abandoned", _("Abandoned")

    OVER = (Status.SUCCEEDED, Status.FAILED, Status.ABANDONED)

    kind = models.CharField(max_length=60, help_text="Its registered kind (core.jobs.register_job_kind)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True, help_text="What the handler is asked to do")
    result = models.JSONField(null=True, blank=True, help_text="What it did (or the error body), once over")
    error = models.TextField(blank=True, help_text="Why it failed or was abandoned")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0, help_text="0 while unknown")
    progress_phase = models.CharField(max_length=120, blank=True, help_text="What it is doing now, for people")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started (a re-run after a dead worker)")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True, help_text="When its lease was found lapsed")
    created_by = models.CharField(max_length=200, help_text="Who asked, as shown at the time")
    created_by_type = models.CharField(max_length=6, help_text="user, token or system")
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_token = models.ForeignKey(
        "cockpit.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True, help_text="The request that started it")
    language = models.CharField(max_length=10, blank=True,
                                help_text="Of the request that asked: the outcome's")
    target_type = models.CharField(max_length=64, blank=True, help_text="The object it works on (app.model)")
    target_id = models.CharField(max_length=64, blank=True)

    class Meta:
        app_label = "cockpit"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="job_org_created"),
            models.Index(fields=["organization", "target_type", "target_id"], name="job_org_target"),
            models.Index(fields=["status"], name="job_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(status="abandoned") | Q(abandoned_at__isnull=False),
                                   name="job_abandoned_has_time"),
            models.CheckConstraint(condition=~Q(status__in=["succeeded", "failed"]) | Q(finished_at__isnull=False),
                                   name="job_finished_has_time"),
        ]

    def __str__(self):
        return f"{self.kind_label} #{self.pk} ({self.status})"

    @property
    def is_over(self) -> bool:
        return self.status in self.OVER

    @property
    def kind_label(self) -> str:
        kind = JOB_KINDS.get(self.kind)
        return str(kind.label) if kind else self.kind

    @property
    def percent(self) -> int | None:
        """0–100, or None while the total is unknown; 100 once it succeeded."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def actor(self) -> Actor:
        """Who the work is done for: the person or token that asked (its audit entries name them)."""
        if self.created_by_type == "user" and self.created_by_user is not None:
            return Actor.for_user(self.created_by_user)
        if self.created_by_type == "token" and self.created_by_token is not None:
            return Actor.for_token(self.created_by_token)
        return Actor.system(f"job {self.pk}")


# --- the registry ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Callable[["JobRun"], dict | None]
    label: str
    rerun_safe: bool = False  # a run whose worker died may simply run again (it resumes or redoes all-or-nothing)


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(name: str, handler: Callable, *, label, rerun_safe: bool = False) -> None:
    """An app declares a kind of job from its wiring; a name is registered once (again with the same handler)."""
    existing = JOB_KINDS.get(name)
    if existing is not None and existing.handler is not handler:
        raise ValueError(f"Job kind {name!r} is registered twice with different handlers")
    JOB_KINDS[name] = JobKind(name=name, handler=handler, label=label, rerun_safe=rerun_safe)


class JobFailed(Exception):
    """A handler's way to fail its job: ``message`` for people, ``result`` the body a caller reads (e.g. the
    error body the synchronous answer would have had)."""

    def __init__(self, message: str, *, result: dict | None = None):
        super().__init__(message)
        self.message = message
        self.result = result


def error_result(exc: DomainError) -> dict:
    """A domain error as the API's one error shape (``core.api.errors``): the body a synchronous call answers."""
    return {"status": exc.status, "code": exc.code, "detail": exc.message,
            "fields": {exc.field: [exc.message]} if exc.field else {}}


def lease_name(job_id: int) -> str:
    return f"job:{job_id}"


# --- starting --------------------------------------------------------------------------------------------------


def job_start(*, organization, actor: Actor, kind: str, params: dict | None = None, target=None, total: int = 0,
              phase: str = "") -> Job:
    """Record a job and queue its task once the caller's transaction commits (at once outside one).

    A broker that cannot be reached fails the job and raises :class:`ServiceUnavailable` from the commit: the caller
    answers 503, and no job waits for a task that was never queued."""
    if kind not in JOB_KINDS:
        raise ValueError(f"Unknown job kind {kind!r}: register it (core.jobs.register_job_kind)")
    job = Job.objects.create(
        organization=organization, kind=kind, params=params or {}, progress_total=total, progress_phase=phase[:120],
        created_by=actor.label[:200], created_by_type=actor.kind,
        created_by_user=actor.user if actor.kind == "user" else None,
        created_by_token=actor.token if actor.kind == "token" else None,
        request_id=current_request_id.get(),
        language=_supported(translation.get_language()),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
    )
    transaction.on_commit(lambda: queue_job(job.pk))
    return job


def queue_job(job_id: int) -> None:
    """Queue the job's task by name; a broker that is down fails the job now and raises (503)."""
    try:
        enqueue(JOB_TASK, job_id)
    except ServiceUnavailable:
        now = timezone.now()
        Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.FAILED, finished_at=now, updated_at=now,
            error=gettext("The job queue was unavailable, so the job never started. Try again in a few minutes."))
        raise


# --- running ---------------------------------------------------------------------------------------------------


class JobRun:
    """What a handler is given: the job, its organization, parameters and actor; progress reports; the fence."""

    def __init__(self, job: Job, lease: Lease, writer: "_ProgressWriter"):
        self.job, self.lease, self._writer = job, lease, writer
        self.done, self.total, self.phase = job.progress_done, job.progress_total, job.progress_phase
        self.finished = False

    @property
    def organization(self):
        return self.job.organization

    @property
    def params(self) -> dict:
        return self.job.params

    @property
    def actor(self) -> Actor:
        return self.job.actor

    def progress(self, done: int, total: int | None = None, phase: str | None = None) -> None:
        """Say how far the work is (``done`` of ``total``, and what it is doing); shown within a second or so."""
        self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))
        if phase is not None:
            self.phase = str(phase)[:120]
        self._writer.report(self.done, self.total, self.phase)

    def check(self) -> None:
        """Between steps: raise :class:`LeaseLost` if another run took this job over (this one stalled)."""
        self.lease.check()

    def succeed(self, result: dict | None) -> None:
        """Record the outcome. Inside the handler's last transaction, the job and its work commit together; a job
        meanwhile abandoned or taken over raises :class:`LeaseLost`, which rolls that transaction back."""
        now = timezone.now()
        done = self.total if self.total else self.done
        updated = Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts).update(
            status=Job.Status.SUCCEEDED, result=result or {}, finished_at=now, updated_at=now, progress_done=done,
            progress_total=self.total, progress_phase=self.phase)
        if not updated:
            raise LeaseLost(lease_name(self.job.pk))
        self.finished = True

    def fail(self, message: str, result: dict | None = None) -> None:
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts).update(
            status=Job.Status.FAILED, error=message[:5000], result=result, finished_at=now, updated_at=now,
            progress_done=self.done, progress_total=self.total, progress_phase=self.phase)
        self.finished = True


class _ProgressWriter:
    """Writes a run's latest progress from its own thread and database connection, at most every
    :data:`PROGRESS_INTERVAL` seconds: the handler never waits for it, and its open transaction hides nothing."""

    def __init__(self, job: Job):
        self.job_id, self.attempt = job.pk, job.attempts
        self._latest = self._written = None
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-{job.pk}-progress", daemon=True)
        self._warned = False

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def report(self, done: int, total: int, phase: str) -> None:
        with self._lock:
            self._latest = (done, total, phase)
        self._wake.set()

    def _loop(self) -> None:
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    return  # the run writes its final state itself
                self._wake.clear()
                self._write()
                self._stop.wait(PROGRESS_INTERVAL)
        finally:
            connections.close_all()  # this thread's connections only

    def _write(self) -> None:
        with self._lock:
            latest = self._latest
        if latest is None or latest == self._written:
            return
        done, total, phase = latest
        try:
            Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING, attempts=self.attempt).update(
                progress_done=done, progress_total=total, progress_phase=phase, updated_at=timezone.now())
        except DatabaseError as exc:  # busy (SQLite's one writer) or away for a moment: the next report tries again
            if not self._warned:
                logger.warning("Could not write the progress of job %s yet (%s)", self.job_id, exc)
                self._warned = True
            self._wake.set()
            return
        self._written = latest


def job_execute(*, job_id: int) -> dict:
    """Run the job now (the task calls this). A finished job, or one a live run holds, is left alone."""
    job = Job.objects.select_related("organization", "created_by_user", "created_by_token").filter(pk=job_id).first()
    if job is None:
        return {"job": job_id, "status": "gone"}
    if job.is_over:
        return {"job": job.pk, "status": job.status, "ran": False}
    lease = lease_acquire(organization=job.organization, job=lease_name(job.pk))
    if lease is None:  # a live run holds it (a redelivered or doubled task)
        return {"job": job.pk, "status": job.status, "ran": False}
    try:
        job.refresh_from_db(fields=["status", "attempts", "params", "started_at"])
        # Its error, per-item outcomes and phases are written as the person who asked reads them.
        with translation.override(_supported(job.language) or settings.LANGUAGE_CODE):
            return _run(job, lease)
    finally:
        lease.release()
        if Job.objects.filter(pk=job.pk, status__in=Job.OVER).exists():  # no run will need its lease again
            JobLease.objects.filter(pk=lease.pk, holder="").delete()


def _run(job: Job, lease: Lease) -> dict:
    if job.is_over:
        return {"job": job.pk, "status": job.status, "ran": False}
    kind = JOB_KINDS.get(job.kind)
    # Running, while this run holds its lease: the previous run is dead. Run it again only when that is safe.
    if job.status == Job.Status.RUNNING and (kind is None or not kind.rerun_safe or job.attempts >= MAX_RUNS):
        _abandon(job, lease.previous)
        return {"job": job.pk, "status": Job.Status.ABANDONED, "ran": False}
    now = timezone.now()
    if not Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
        status=Job.Status.RUNNING, started_at=job.started_at or now, attempts=F("attempts") + 1, updated_at=now,
    ):
        return {"job": job.pk, "status": job.status, "ran": False}
    job.status, job.started_at, job.attempts = Job.Status.RUNNING, job.started_at or now, job.attempts + 1
    if kind is None:
        JobRun(job, lease, None).fail(gettext("This kind of job (%(kind)s) is unknown here.") % {"kind": job.kind})
        return {"job": job.pk, "status": Job.Status.FAILED, "ran": True}
    request_id = current_request_id.set(job.request_id)
    try:
        return _handle(job, lease, kind)
    finally:
        current_request_id.reset(request_id)


def _supported(language: str | None) -> str:
    """``language`` when the cockpit speaks it, else ""."""
    return language if language in dict(settings.LANGUAGES) else ""


def _handle(job: Job, lease: Lease, kind: JobKind) -> dict:
    failure, result = None, None
    with lease.heartbeat(), _ProgressWriter(job) as writer:
        run = JobRun(job, lease, writer)
        try:
            result = kind.handler(run)
        except LeaseLost:  # stalled past its lease: the run or sweep that took over decides; write nothing
            logger.warning("Job %s (%s) lost its lease to another run", job.pk, job.kind)
            return {"job": job.pk, "status": "lost", "ran": True}
        except JobFailed as exc:
            failure = (exc.message, exc.result)
        except DomainError as exc:
            failure = (exc.message, error_result(exc))
        except Exception as exc:  # a bug must not leave the job "running"; it is logged in full
            logger.exception("Job %s (%s) crashed", job.pk, job.kind)
            failure = (gettext("Internal error (%(error)s); what the job had not committed was not applied.")
                       % {"error": exc.__class__.__name__}, None)
    try:
        if failure is not None:
            run.fail(*failure)
        elif not run.finished:
            run.succeed(result)
    except LeaseLost:
        return {"job": job.pk, "status": "lost", "ran": True}
    return {"job": job.pk, "status": Job.Status.FAILED if failure else Job.Status.SUCCEEDED, "ran": True}


def _abandon(job: Job, previous: Lapsed | None) -> int:
    now = timezone.now()
    if previous is not None:
        why = gettext("Its worker stopped without finishing (lease lapsed at %(time)s, held by %(holder)s); the job "
                      "was marked abandoned after %(runs)s run(s). What it had not committed was not applied.") % {
            **previous.details(), "runs": job.attempts}
    else:
        why = gettext("Its worker stopped without finishing; the job was marked abandoned after %(runs)s run(s). What "
                      "it had not committed was not applied.") % {"runs": job.attempts}
    count = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.ABANDONED, abandoned_at=now, error=why, updated_at=now)
    if count:
        logger.warning("Job %s (%s) of organization %s abandoned: %s", job.pk, job.kind, job.organization_id, why)
    return count


def jobs_sweep(*, limit: int = 500) -> dict:
    """Periodically (beat): each running job whose lease lapsed (its worker died) is queued again when its kind is
    safe to re-run (and it ran fewer than :data:`MAX_RUNS` times), otherwise marked abandoned, when and why."""
    abandoned, requeued = 0, []
    running = Job.objects.filter(status=Job.Status.RUNNING).select_related("organization").order_by("pk")[:limit]
    for job in running:
        lease = lease_acquire(organization=job.organization, job=lease_name(job.pk))
        if lease is None:
            continue  # alive: its heartbeat renews the lease
        try:
            kind = JOB_KINDS.get(job.kind)
            if kind is not None and kind.rerun_safe and job.attempts < MAX_RUNS:
                requeued.append(job.pk)
            else:
                abandoned += _abandon(job, lease.previous)
        finally:
            lease.release()
    for job_id in requeued:  # its task takes the lease, finds the job running and runs it again
        enqueue_or_log(JOB_TASK, job_id)
    return {"abandoned": abandoned, "requeued": len(requeued)}


# --- reads -----------------------------------------------------------------------------------------------------


def job_list(*, organization):
    """The organization's jobs, newest first."""
    return Job.objects.for_org(organization).order_by("-created_at", "-id")


def job_for_target(*, organization, target, kind: str | None = None, active: bool = False) -> Job | None:
    """The newest job working on ``target`` (of ``kind``; only a queued or running one with ``active``)."""
    jobs = Job.objects.for_org(organization).filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    if kind is not None:
        jobs = jobs.filter(kind=kind)
    if active:
        jobs = jobs.exclude(status__in=Job.OVER)
    return jobs.order_by("-created_at", "-id").first()
