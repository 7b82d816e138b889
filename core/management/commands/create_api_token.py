from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.errors import DomainError
from core.models import ApiToken, Organization
from core.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for an organization. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ)

    def handle(self, *args, org_slug, name, scope, **options):
        organization = Organization.objects.filter(slug=org_slug).first()
        if organization is None:
            raise CommandError(f"No organization with the slug “{org_slug}”.")
        try:
            token, key = api_token_create(
                organization=organization, name=name, scope=scope, actor=Actor.system("create_api_token")
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Token “{token.name}” ({token.scope}) for {organization.name}. Store the key now: "
                          "it cannot be shown again.")
        self.stdout.write(key)
