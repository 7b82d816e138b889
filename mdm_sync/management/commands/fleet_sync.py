from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.models import Organization
from mdm_sync.models import SyncRun
from mdm_sync.sync import sync_organization


class Command(BaseCommand):
    help = "Sync one organization with its Fleet now and print what changed."

    def add_arguments(self, parser):
        parser.add_argument("org_slug")

    def handle(self, *args, org_slug, **options):
        organization = Organization.objects.filter(slug=org_slug).first()
        if organization is None:
            raise CommandError(f"No organization with the slug “{org_slug}”.")
        run = sync_organization(organization=organization, trigger=SyncRun.Trigger.COMMAND,
                                actor=Actor.system("fleet_sync"))
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"Sync {run.status}: {run.error}")
        self.stdout.write(
            f"Synced {organization.name}: {run.hosts_listed} hosts in {run.pages} pages — {run.created} created, "
            f"{run.updated} updated, {run.unchanged} unchanged, {run.not_seen} not seen, "
            f"{run.reenrolled} re-enrolled ({run.duration.total_seconds():.1f} s)."
        )
