"""The Celery app and the project's single beat schedule.

Each domain app contributes its periodic jobs here, so an operator reads one table to know
everything that runs on its own.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cockpit.settings")

app = Celery("cockpit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # DESIGN §9: the Fleet sync, one task per connected organization.
    "fleet-sync": {
        "task": "mdm_sync.tasks.sync_all_organizations",
        "schedule": crontab(minute="*/30"),
    },
    # DESIGN §9: the auto-unenrollment purge, hourly, away from the :00/:30 syncs.
    "auto-unenrollment": {
        "task": "enrollment.tasks.auto_unenroll_all_organizations",
        "schedule": crontab(minute=15),
    },
    # Bulk sends (invitations, fix instructions) whose worker died mid-chunk: picked up again once their lease lapsed.
    "enrollment-batch-sweep": {
        "task": "enrollment.tasks.invitation_batches_sweep",
        "schedule": 30.0,
    },
    # DESIGN §9: assignment suggestion runs after each sync (an after-sync step) and on its own, offset from it.
    "assignment-suggestion": {
        "task": "assignment.suggestion.tasks.suggestions_refresh_all",
        "schedule": crontab(minute="15,45"),
    },
    # DESIGN §9: scheduled offboardings (daily).
    "offboarding-daily": {
        "task": "offboarding.tasks.run_due_offboardings",
        "schedule": crontab(minute=5, hour=2),
    },
    # Device commands (wipes, removals from Fleet) that are due: new ones missed by their own task, backed-off retries.
    "device-command-retries": {
        "task": "mdm_sync.tasks.retry_device_commands",
        "schedule": crontab(minute="*/10"),
    },
    # Groups kept as Fleet labels: failed ones due for a retry, deleted groups' labels (the sync reconciles the rest).
    "group-label-retries": {
        "task": "mdm_sync.tasks.retry_group_labels",
        "schedule": crontab(minute="5-59/10"),
    },
    # Jobs (core.jobs) whose worker died: re-run when their kind is safe to re-run, otherwise marked abandoned.
    "jobs-sweep": {
        "task": "core.tasks.jobs_sweep",
        "schedule": crontab(minute="*/2"),
    },
    # Outbound webhooks: the audit log read for new events every 10 s; due deliveries (retries, lost tasks) each minute;
    # the delivery log pruned to 30 days, daily.
    "webhooks-relay": {
        "task": "webhooks.tasks.webhooks_relay",
        "schedule": 10.0,
    },
    "webhooks-send-due": {
        "task": "webhooks.tasks.webhooks_send_due",
        "schedule": crontab(minute="*"),
    },
    "webhooks-prune": {
        "task": "webhooks.tasks.webhooks_prune",
        "schedule": crontab(minute=40, hour=3),
    },
    "clear-expired-sessions": {
        "task": "core.tasks.clear_expired_sessions",
        "schedule": crontab(minute=17, hour=3),
    },
    # The dashboard's trend charts: each organization's counts and syncs of the day, late in the day (UTC), away from
    # the :00/:30 syncs. Re-running a day updates its row.
    "daily-snapshots": {
        "task": "mdm_sync.tasks.daily_snapshots_all",
        "schedule": crontab(minute=50, hour=23),
    },
}
