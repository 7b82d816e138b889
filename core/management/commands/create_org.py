from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from core.actors import Actor
from core.errors import DomainError
from core.models import Membership
from core.services import membership_add, organization_create


class Command(BaseCommand):
    help = "Create an organization; optionally give a cockpit user (created if needed) the owner role."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", help="Cockpit login to make owner (created if it does not exist)")
        parser.add_argument("--owner-password", help="Password for a newly created owner")

    @transaction.atomic
    def handle(self, *args, slug, name, owner_email=None, owner_password=None, **options):
        if not slug or slugify(slug) != slug:
            raise CommandError(f"“{slug}” is not a valid slug: use lower-case letters, digits and hyphens.")
        actor = Actor.system("create_org")
        try:
            organization = organization_create(slug=slug, name=name, actor=actor)
            if owner_email:
                User = get_user_model()
                user = User.objects.filter(username__iexact=owner_email).first()
                if user is None:
                    if not owner_password:
                        raise CommandError("--owner-password is required to create a new owner.")
                    user = User.objects.create_user(username=owner_email, email=owner_email, password=owner_password)
                membership_add(organization=organization, user=user, role=Membership.Role.OWNER, actor=actor)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Created organization {organization.name} ({organization.slug})."))
        self.stdout.write(organization.slug)
