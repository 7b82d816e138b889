"""The owners' notice of a disabled endpoint speaks each owner's language: their preference, else the
organization's (issue #14)."""

from django.core import mail
from django.utils import timezone

from core.models import Membership, Organization, UserPreference
from tests.conftest import member
from tests.webhooks.factories import EndpointFactory
from webhooks.emails import endpoint_disabled_on_commit


def test_each_owner_reads_the_notice_in_their_language(org, django_capture_on_commit_callbacks):
    french = member(org, Membership.Role.OWNER, email="marie@acme.test")
    english = member(org, Membership.Role.OWNER, email="john@acme.test")
    member(org, Membership.Role.OWNER, email="org-default@acme.test")
    UserPreference.objects.create(user=french, language="fr")
    UserPreference.objects.create(user=english, language="en")
    Organization.objects.filter(pk=org.pk).update(language="fr")
    org.refresh_from_db()
    endpoint = EndpointFactory(organization=org, enabled=False, disabled_at=timezone.now(),
                               disabled_reason="5 failures in a row")
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_disabled_on_commit(endpoint)
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects["john@acme.test"] == "Webhook endpoint disabled in Acme"
    assert subjects["marie@acme.test"] != subjects["john@acme.test"]
    assert subjects["org-default@acme.test"] == subjects["marie@acme.test"]  # no preference: the organization's
    assert '<html lang="fr">' in dict((m.to[0], m.alternatives[0][0]) for m in mail.outbox)["marie@acme.test"]
