"""Organization A's offboarding objects for the tenant isolation test (tests/cockpit/test_tenant_isolation.py)."""

from core.actors import Actor
from devices.models import DeviceCommand
from offboarding.services import offboarding_start


def objects(base) -> dict:
    org = base["org"]
    case = offboarding_start(organization=org, employee=base["employee"], actor=Actor.system("tests"))
    decision = case.decisions.get()
    wipe = DeviceCommand.objects.create(organization=org, device=base["device"], kind=DeviceCommand.Kind.WIPE,
                                        status=DeviceCommand.Status.FAILED, hand_over_to=base["employee"],
                                        last_error="Acme Secret Corp host refused")
    decision.wipe_command = wipe
    decision.save(update_fields=["wipe_command"])
    return {"offboarding": case, "decision": decision, "wipe": wipe}
