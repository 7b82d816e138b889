"""What a CSV commit writes, row for row: the pre-assignments, their groups, the devices assigned, the new employees and
every audit entry (event, target, label, before and after), whichever database writes them in bulk."""

import pytest

from assignment import services
from assignment.models import CsvImport, PreAssignment
from core.hooks import employee_created
from core.models import AuditEvent, Employee
from devices import services as device_services
from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory

HEADER = "Serial Number,User Name,Domain Name,Email Address,Group Name,Owned By"


@pytest.fixture
def groups(org):
    return {name: GroupFactory(organization=org, name=name) for name in ("Engineering", "Sales")}


def start(org, actor, text):
    return services.csv_import_start(organization=org, actor=actor, data=text.encode(), filename="w.csv")


def audit(org, event):
    return [(e.target_type, e.target_id, e.target_label, e.before, e.after, e.source, e.actor_user_id, e.actor_label)
            for e in AuditEvent.objects.for_org(org).filter(event=event).order_by("id")]


def test_every_row_and_audit_entry_of_a_commit(org, actor, groups, employee, django_capture_on_commit_callbacks):
    Employee.objects.filter(pk=employee.pk).update(email="Ada@Acme.test")  # stored in another case than the file's
    grace = EmployeeFactory(organization=org, email="grace@acme.test")
    here = DeviceFactory(organization=org, serial_number="C02HERE", name="ada-mbp", ownership="corporate")
    here.groups.add(groups["Sales"])
    taken = DeviceFactory(organization=org, serial_number="C02TAKEN", name="")
    device_services.device_assign(device=taken, employee=grace, actor=actor)
    waiting = services.pre_assignment_create(organization=org, actor=actor, serial_number="C02WAIT",
                                             employee=employee, groups=["Sales"])
    text = (f"{HEADER}\n"
            "C02NEW,ada,CORP,ada@acme.test,Sales/Engineering,Personal\n"
            "C02WAIT,ada,,ada@acme.test,Engineering,\n"
            "C02HERE,ada,,ada@acme.test,Engineering,Personal\n"
            "C02TAKEN,ada,,ada@acme.test,Sales,\n"
            "C02NB,nb,NB,New.Bie@acme.test,Sales,\n")
    record = start(org, actor, text)
    assert {row["serial"]: row["action"] for row in record.rows} == {
        "C02NEW": "create", "C02WAIT": "update", "C02HERE": "assign_now", "C02TAKEN": "conflict", "C02NB": "create"}
    announced = []
    employee_created.register(lambda employee, actor, **kw: announced.append((employee.email, employee.organization)),
                              name="tests.announced")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = services.csv_import_commit(csv_import=record, actor=actor)
    finally:
        employee_created._steps = [step for step in employee_created._steps if step.name != "tests.announced"]

    assert result == {"created": 2, "updated": 1, "assigned": 1, "conflicts": 1, "new_employees": 1, "skipped": 0}
    newbie = Employee.objects.get(organization=org, email="new.bie@acme.test")
    assert (newbie.username, newbie.domain_name, newbie.status, newbie.full_name) == ("nb", "NB", "active", "")
    pas = {pa.serial_number: pa for pa in PreAssignment.objects.for_org(org).exclude(pk=waiting.pk)}
    new, nb, applied, conflict = pas["C02NEW"], pas["C02NB"], pas["C02HERE"], pas["C02TAKEN"]
    assert (new.employee, new.domain_name, new.ownership, new.status, new.source, new.created_by) == (
        employee, "CORP", "personal", "waiting", "csv_import", actor.label)
    assert sorted(g.name for g in new.groups.all()) == ["Engineering", "Sales"] and nb.employee == newbie
    assert (applied.status, applied.device, applied.settled_by) == ("applied", here, actor.label)
    assert applied.applied_at is not None and [g.name for g in applied.groups.all()] == ["Engineering"]
    assert (conflict.status, conflict.device, conflict.note) == ("conflict", taken,
                                                                 "The device is assigned to grace@acme.test.")
    waiting_before = waiting.updated_at
    waiting.refresh_from_db()
    assert [g.name for g in waiting.groups.all()] == ["Engineering"] and waiting.updated_at > waiting_before
    here.refresh_from_db()
    assert (here.assignee, here.ownership, here.availability_status) == (employee, "personal", "in_use")
    assert [g.name for g in here.groups.all()] == ["Engineering"] and here.history.first().source == "csv_import"
    assert here.history.first().reason == f"CSV import #{record.pk}, line 4"

    user, label, target = actor.user.pk, actor.label, "assignment.preassignment"
    assert audit(org, "employee.created") == [("cockpit.employee", str(newbie.pk), "new.bie@acme.test", {}, {
        "email": "new.bie@acme.test", "username": "nb", "domain_name": "NB"}, "csv_import", user, label)]
    assert audit(org, "pre_assignment.created")[-4:] == [
        (target, str(pa.pk), pa.serial_number, {}, {"serial_number": pa.serial_number, "employee": email,
                                                   "groups": groups_}, "csv_import", user, label)
        for pa, email, groups_ in ((new, "Ada@Acme.test", ["Sales", "Engineering"]),
                                   (applied, "Ada@Acme.test", ["Engineering"]),
                                   (conflict, "Ada@Acme.test", ["Sales"]), (nb, "new.bie@acme.test", ["Sales"]))]
    assert audit(org, "pre_assignment.updated") == [(target, str(waiting.pk), "C02WAIT", {}, {
        "groups": ["Engineering"], "domain_name": "MDM", "ownership": "corporate"}, "csv_import", user, label)]
    assert audit(org, "pre_assignment.conflict") == [(target, str(conflict.pk), "C02TAKEN", {}, {
        "note": "The device is assigned to grace@acme.test."}, "csv_import", user, label)]
    assert audit(org, "pre_assignment.applied") == [(target, str(applied.pk), "C02HERE", {}, {
        "device": "ada-mbp", "employee": "Ada@Acme.test"}, "csv_import", user, label)]
    assert audit(org, "device.updated") == [("devices.device", str(here.pk), "ada-mbp", {
        "groups": ["Sales"], "ownership": "corporate"}, {"groups": ["Engineering"], "ownership": "personal"},
        "csv_import", user, label)]
    [assigned] = [entry for entry in audit(org, "device.assigned") if entry[1] == str(here.pk)]
    assert assigned[4]["assignee"] == "Ada@Acme.test" and assigned[4]["reason"] == f"CSV import #{record.pk}, line 4"
    assert Device.objects.get(pk=here.pk).version == here.version
    assert announced == [("new.bie@acme.test", org)]  # after commit, the saved employee, its organization loaded


def test_a_pre_assignment_cancelled_since_the_check_stops_the_commit(org, actor, groups, employee, monkeypatch):
    waiting = services.pre_assignment_create(organization=org, actor=actor, serial_number="C02WAIT",
                                             employee=employee, groups=["Sales"])
    record = start(org, actor, f"{HEADER}\nC02WAIT,ada,,ada@acme.test,Engineering,\nC02NEW,ada,,ada@acme.test,Sales,\n")
    real = services.csv_imports.csv_rules.classify

    def classify_then_cancel(organization, rows, kind):  # another transaction wins the race after the check
        found = real(organization, rows, kind)
        PreAssignment.objects.filter(pk=waiting.pk).delete()
        return found

    monkeypatch.setattr(services.csv_imports.csv_rules, "classify", classify_then_cancel)
    with pytest.raises(services.csv_imports.ConcurrentChange):
        services.csv_import_commit(csv_import=record, actor=actor)
    assert not PreAssignment.objects.filter(serial_number="C02NEW").exists()
    assert CsvImport.objects.get(pk=record.pk).status == "previewed"


def test_an_analysis_in_one_call_stores_the_rows_once(org, actor, groups, monkeypatch):
    monkeypatch.setattr(services.csv_imports, "ANALYSE_CHUNK", 2)
    text = HEADER + "\n" + "".join(f"C02A{i},u,,u{i}@acme.test,Sales,\n" for i in range(5))
    record = services.csv_import_start(organization=org, actor=actor, data=text.encode(), analyse_all=False)
    assert (record.status, record.processed_rows) == ("analysing", 2)
    saves, reported = [], []
    real_save = CsvImport.save
    monkeypatch.setattr(CsvImport, "save", lambda self, *a, **kw: saves.append(kw.get("update_fields"))
                        or real_save(self, *a, **kw))

    record = services.csv_import_analyse(csv_import=record, progress=lambda done, total: reported.append(done))

    assert (record.status, record.processed_rows, record.counts["create"]) == ("previewed", 5, 5)
    assert reported == [4] and len(saves) == 1  # told between two chunks; one write of the import
    stored = CsvImport.objects.get(pk=record.pk)
    assert [row["action"] for row in stored.rows] == ["create"] * 5
