from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.errors import DomainError
from core.models import Organization
from enrollment.unenroll import auto_unenroll_plan, auto_unenroll_run


class Command(BaseCommand):
    help = "Run the auto-unenrollment purge of one organization now (or --preview what it would purge)."

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("--preview", action="store_true", help="List what a run would purge; change nothing")

    def handle(self, *args, org_slug, preview, **options):
        organization = Organization.objects.filter(slug=org_slug).first()
        if organization is None:
            raise CommandError(f"No organization with the slug “{org_slug}”.")
        if preview:
            plan = auto_unenroll_plan(organization=organization)
            for device in plan.devices:
                self.stdout.write(f"{device.pk}\t{device}\tlast seen {device.last_seen_at:%Y-%m-%d}")
            guard = "stale sync" if plan.stale_sync else ("over the share limit" if plan.over_share else "none")
            self.stdout.write(f"{len(plan.devices)} of {plan.enrolled_count} enrolled devices; guard: {guard}")
            return
        if not organization.auto_unenroll_enabled:
            raise CommandError("Auto-unenrollment is off for this organization (Settings → Remote management).")
        try:
            run = auto_unenroll_run(organization=organization, actor=Actor.system("auto_unenroll command"))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{run.get_status_display()}: {len(run.purged_ids)} purged, {len(run.errors)} failed, "
                          f"{run.reinvited} re-invited. {run.message}".strip())
        if run.status in ("failed", "blocked", "stale_sync"):
            raise CommandError(run.message or run.get_status_display())
