"""Organization A's offboarding objects for the tenant isolation test (tests/cockpit/test_tenant_isolation.py)."""

from cockpit.actors import Actor
from offboarding.models import WipeRequest
from offboarding.services import offboarding_start


def objects(base) -> dict:
    org = base["org"]
    case = offboarding_start(organization=org, employee=base["employee"], actor=Actor.system("tests"))
    decision = case.decisions.get()
    wipe = WipeRequest.objects.create(organization=org, device=base["device"], decision=decision,
                                      status=WipeRequest.Status.FAILED, last_error="Acme Secret Corp host refused")
    return {"offboarding": case, "decision": decision, "wipe": wipe}
