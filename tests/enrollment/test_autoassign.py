"""Automatic assignment on enrollment (DESIGN §5.4), end to end: the simulator's hosts carry the device
mappings, the real sync runs, and the after-sync step assigns or explains why not."""

import pytest

from core.actors import Actor
from core.models import AuditEvent, Employee
from devices import rules
from devices import services as device_services
from devices.models import AssignmentStatus, Device, DeviceHistory, EnrollmentStatus
from enrollment.autoassign import decide, mapped_emails
from mdm_sync.hooks import after_sync
from tests.conftest import sync_now
from tests.factories import DeviceFactory, EmployeeFactory

STEP = "enrollment.auto_assign"


def installer(email, source="custom"):
    return {"email": email, "source": source}


def sso(email, source="mdm_idp_accounts"):
    return {"email": email, "source": source}


@pytest.fixture
def desktops(sim):
    """Healthy desktop hosts of the simulator, ids ascending."""
    ids = [h for h in sim.ids_in_situation("healthy") if sim.host_json(h)["platform"] in ("darwin", "windows")]
    assert len(ids) >= 8
    return ids


@pytest.fixture
def people(org):
    return {name: EmployeeFactory(organization=org, email=f"{name}@acme.test", full_name=name.title())
            for name in ("ada", "bob", "cyd", "dee")}


def device_of(org, host_id) -> Device:
    return Device.objects.for_org(org).get(fleet_host_id=host_id)


def test_the_step_is_registered_at_order_20():
    assert STEP in after_sync.names
    orders = {step.name: step.order for step in after_sync._steps}
    assert orders[STEP] == 20


def test_end_to_end(connected, sim, desktops, people):
    ada, bob, cyd, dee = (people[n] for n in ("ada", "bob", "cyd", "dee"))
    Employee.objects.filter(pk=dee.pk).update(status=Employee.Status.OFFBOARDED)
    match, legacy, mismatch, only_installer, offboarded, several, generic = desktops[:7]
    sim.update_host(match, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    sim.update_host(legacy, device_mapping=[installer("bob@acme.test", "custom_installer"),
                                            sso("bob@acme.test", "identity_provider")])
    sim.update_host(mismatch, device_mapping=[installer("cyd@acme.test"), sso("ada@acme.test")])
    sim.update_host(only_installer, device_mapping=[installer("cyd@acme.test")], end_users=[])
    sim.update_host(offboarded, device_mapping=[installer("dee@acme.test"), sso("dee@acme.test")])
    sim.update_host(several, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test"), sso("bob@acme.test")])
    sim.update_host(generic, device_mapping=[])

    run = sync_now(connected, sim)

    assert run.status == "succeeded", run.error
    assert run.follow_ups[STEP]["ok"] and run.follow_ups[STEP]["assigned"] == 2
    assigned = device_of(connected, match)  # created by the sync, then assigned
    assert (assigned.assignee, assigned.assignment_status) == (ada, AssignmentStatus.ASSIGNED)
    assert assigned.enrollment_status == EnrollmentStatus.ENROLLED and assigned.auto_assignment_note == ""
    history = assigned.history.get(action=DeviceHistory.Action.ASSIGNED)
    assert history.source == "enrollment"
    assert AuditEvent.objects.for_org(connected).filter(event="device.assigned", source="enrollment",
                                                        target_id=str(assigned.pk)).exists()
    assert device_of(connected, legacy).assignee == bob
    notes = {host: device_of(connected, host) for host in (mismatch, only_installer, offboarded, several, generic)}
    for device in notes.values():
        assert device.assignee is None and device.assignment_status == AssignmentStatus.TO_ASSIGN
        assert device.enrollment_status == EnrollmentStatus.AWAITING_USER_ASSIGNMENT
    assert "Mismatch" in notes[mismatch].auto_assignment_note
    assert "second check" in notes[only_installer].auto_assignment_note
    assert "offboarded" in notes[offboarded].auto_assignment_note
    assert "Several users" in notes[several].auto_assignment_note
    assert "Generic installer" in notes[generic].auto_assignment_note


def test_second_check_arriving_later_assigns(connected, sim, desktops, people):
    host = desktops[0]
    sim.update_host(host, device_mapping=[installer("ada@acme.test")], end_users=[])
    sync_now(connected, sim)
    assert device_of(connected, host).assignee is None
    sim.update_host(host, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    sync_now(connected, sim)
    device = device_of(connected, host)
    assert device.assignee == people["ada"] and device.auto_assignment_note == ""


def test_device_assigned_by_a_person_is_untouched(connected, sim, desktops, people, actor):
    host = desktops[0]
    sim.update_host(host, device_mapping=[installer("cyd@acme.test")])
    sync_now(connected, sim)
    device = device_services.device_assign(device=device_of(connected, host), employee=people["bob"], actor=actor)
    sim.update_host(host, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])

    sync_now(connected, sim)

    device.refresh_from_db()
    assert device.assignee == people["bob"]
    assert list(device.history.values_list("source", flat=True)) == ["manual"]


def test_device_unassigned_by_a_person_is_not_assigned_again(connected, sim, desktops, people, actor):
    host = desktops[0]
    sim.update_host(host, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    sync_now(connected, sim)
    device = device_of(connected, host)
    assert device.assignee == people["ada"]
    device_services.device_unassign(device=device, actor=actor)
    sim.update_host(host, display_name="renamed")  # a change, so the host is looked at again

    sync_now(connected, sim)

    device.refresh_from_db()
    assert device.assignee is None


@pytest.mark.parametrize("platform", ["ios", "ipados", "android"])
def test_mobile_devices_are_not_assigned_from_an_installer(org, platform):
    phone = DeviceFactory(organization=org, platform=platform,
                          fleet_emails=[installer("ada@acme.test"), sso("ada@acme.test")])
    employee, note = decide(phone, {"ada@acme.test": EmployeeFactory(organization=org, email="ada@acme.test")})
    assert employee is None and "pre-assignment" in note
    assert note == rules.platform_hold_reason(platform)  # the rule every automatic path shares


def test_other_platforms_without_an_installer_say_so(org):
    chromebook = DeviceFactory(organization=org, platform="chromeos",
                               fleet_emails=[installer("ada@acme.test"), sso("ada@acme.test")])
    employee, note = decide(chromebook, {"ada@acme.test": EmployeeFactory(organization=org, email="ada@acme.test")})
    assert employee is None and note.startswith("Only macOS, Windows and Linux devices")


def test_a_leaver_is_not_assigned_and_the_note_says_why(connected, sim, desktops, people, actor):
    """An employee whose offboarding is under way (issue #10 §4): both checks agree, yet a person decides."""
    from offboarding import services as offboarding_services

    case = offboarding_services.offboarding_start(organization=connected, employee=people["ada"], actor=actor)
    leaving, staying = desktops[:2]
    sim.update_host(leaving, device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    sim.update_host(staying, device_mapping=[installer("bob@acme.test"), sso("bob@acme.test")])

    run = sync_now(connected, sim)

    assert run.follow_ups[STEP]["assigned"] == 1
    device = device_of(connected, leaving)
    assert device.assignee is None and device.assignment_status == AssignmentStatus.TO_ASSIGN
    assert device.auto_assignment_note.startswith("Not assigned automatically: Ada (ada@acme.test) is leaving")
    assert "draft" in device.auto_assignment_note
    assert device_of(connected, staying).assignee == people["bob"]

    # Her offboarding is cancelled and the host changes: the next sync assigns it.
    offboarding_services.offboarding_cancel(offboarding=case, actor=actor)
    sim.update_host(leaving, display_name="ada-laptop")
    sync_now(connected, sim)
    device = device_of(connected, leaving)
    assert device.assignee == people["ada"] and device.auto_assignment_note == ""


def test_mapped_emails_sorts_sources():
    emails = [installer("A@x.test"), sso("b@x.test"), {"email": "c@x.test", "source": "google_chrome_profiles"},
              installer("d@x.test", "custom_override")]
    assert mapped_emails(emails) == ({"a@x.test", "d@x.test"}, {"b@x.test"})


def test_a_step_run_is_idempotent(connected, sim, desktops, people):
    from enrollment.autoassign import auto_assign_after_sync

    sim.update_host(desktops[0], device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    sync_now(connected, sim)
    again = auto_assign_after_sync(organization=connected, device_ids=[], actor=Actor.system("tests"))
    assert again["assigned"] == 0
    assert device_of(connected, desktops[0]).history.filter(action="assigned").count() == 1


def test_second_check_from_the_hosts_idp_identity(connected, sim, desktops, people):
    """No SSO e-mail in the device mapping, but Get host's ``end_users`` names the same employee."""
    host = desktops[0]
    sim.update_host(host, device_mapping=[installer("ada@acme.test")],
                    end_users=[{"idp_username": "ada@acme.test", "idp_full_name": "Ada", "idp_groups": [],
                                "other_emails": []}])
    other = desktops[1]
    sim.update_host(other, device_mapping=[installer("bob@acme.test")],
                    end_users=[{"idp_username": "cyd@acme.test", "idp_full_name": "Cyd", "idp_groups": [],
                                "other_emails": []}])
    sync_now(connected, sim)
    assert device_of(connected, host).assignee == people["ada"]
    mismatch = device_of(connected, other)
    assert mismatch.assignee is None and "Mismatch" in mismatch.auto_assignment_note


def test_only_the_devices_the_sync_touched_are_looked_at(connected, sim, desktops, people):
    from enrollment.autoassign import auto_assign_after_sync

    sim.update_host(desktops[0], device_mapping=[installer("ada@acme.test"), sso("ada@acme.test")])
    run = sync_now(connected, sim)
    assert run.follow_ups[STEP]["assigned"] == 1
    second = sync_now(connected, sim)  # nothing changed in Fleet: nothing to look at
    assert second.follow_ups[STEP] == {"ok": True, "assigned": 0, "not_assigned": 0}
    everything = auto_assign_after_sync(organization=connected, device_ids=None, actor=Actor.system("tests"))
    assert everything["assigned"] == 0 and everything["not_assigned"] > 0


def test_many_devices_are_assigned_in_bulk_with_a_constant_number_of_queries(org, django_assert_max_num_queries):
    """A first sync can bring thousands of enrolled devices: the step's queries do not grow with them."""
    from enrollment.autoassign import auto_assign_after_sync

    pairs = []
    for n in range(40):
        person = EmployeeFactory(organization=org, email=f"p{n}@acme.test")
        device = DeviceFactory(organization=org, platform="macos", fleet_host_id=1000 + n,
                               fleet_emails=[installer(person.email), sso(person.email)])
        pairs.append((device, person))
    generic = [DeviceFactory(organization=org, platform="windows", fleet_host_id=2000 + n, fleet_emails=[])
               for n in range(20)]
    with django_assert_max_num_queries(20):
        counts = auto_assign_after_sync(organization=org, device_ids=[d.pk for d, _ in pairs] + [d.pk for d in generic],
                                        actor=Actor.system("tests"))
    assert counts == {"assigned": 40, "not_assigned": 20}
    for device, person in pairs:
        device.refresh_from_db()
        assert device.assignee == person and device.history.get(action="assigned").source == "enrollment"
    assert all("Generic installer" in Device.objects.get(pk=d.pk).auto_assignment_note for d in generic)


def test_one_device_taken_meanwhile_does_not_stop_the_others(org, actor, monkeypatch):
    from enrollment import autoassign

    ada, bob = (EmployeeFactory(organization=org, email=f"{n}@acme.test") for n in ("ada", "bob"))
    first = DeviceFactory(organization=org, platform="macos", fleet_host_id=1,
                          fleet_emails=[installer("ada@acme.test"), sso("ada@acme.test")])
    second = DeviceFactory(organization=org, platform="macos", fleet_host_id=2,
                           fleet_emails=[installer("bob@acme.test"), sso("bob@acme.test")])
    real_candidates = autoassign.candidates

    def candidates_then_a_person_acts(organization, device_ids=None):
        rows = list(real_candidates(organization, device_ids))
        device_services.device_assign(device=first, employee=bob, actor=actor)  # after the step read its rows
        return rows

    monkeypatch.setattr(autoassign, "candidates", candidates_then_a_person_acts)
    counts = autoassign.auto_assign_after_sync(organization=org, device_ids=[first.pk, second.pk],
                                               actor=Actor.system("tests"))
    assert counts["assigned"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.assignee == bob and "Not assigned automatically" in first.auto_assignment_note
    assert second.assignee == bob
