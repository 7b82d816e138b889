"""The independent SCIM 2.0 conformance checker, run as its own process against a live cockpit on loopback.

    python tests/scim/checker.py http://127.0.0.1:PORT/scim/v2 TOKEN

It is scim2-tester (python-scim), over HTTP (httpx2), with no Django and nothing of the cockpit imported: it learns
the service from its discovery endpoints like any client, then runs every check (discovery, CRUD, PATCH add /
remove / replace, attribute selection, search) and prints one JSON object per check on stdout.

Two adaptations, which no schema can express:

* RFC 7643 §4.1.1 gives ``userName`` no format, and the cockpit's ``userName`` is the employee's e-mail: the checker
  writes e-mail addresses there instead of random strings.
* ``preferredLanguage`` (an ``Accept-Language`` value) and ``locale`` (a language tag) have a format the RFC gives
  in words only, and the cockpit refuses a value that is no language tag: the checker writes language tags there,
  some the cockpit speaks and some it does not, instead of random strings.
"""

import json
import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


class FreshEmails:
    """What scim2-tester picks a ``userName`` from (``random.choice`` of the field's examples): a new address each
    time, so the users it creates never collide."""

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return f"checker-{uuid.uuid4().hex[:12]}@example.test"


PREFERRED_LANGUAGES = ["fr-CA", "en_US", "da, en-gb;q=0.8, en;q=0.7", "de-DE", "fr"]
LOCALES = ["fr-CA", "en-US", "de_DE"]


def run(base_url: str, token: str) -> list[dict]:
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    user = client.provider.model_for("User")
    user.model_fields["user_name"].examples = FreshEmails()
    user.model_fields["preferred_language"].examples = PREFERRED_LANGUAGES
    user.model_fields["locale"].examples = LOCALES
    results = check_server(client)
    return [
        {"status": result.status.name, "title": result.title, "resource_type": result.resource_type,
         "reason": result.reason, "tags": sorted(result.tags)}
        for result in results
    ]


if __name__ == "__main__":
    for line in run(sys.argv[1], sys.argv[2]):
        print(json.dumps(line))
