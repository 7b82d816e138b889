"""SCIM Users ↔ employees, with Okta's and Entra ID's documented requests (``tests/scim/idp_requests.py``)."""

from datetime import timedelta

from django.utils import timezone, translation

from core.actors import Actor
from core.models import AuditEvent, Employee
from core.services import employee_update
from offboarding.models import Offboarding
from offboarding.services import offboarding_complete, offboarding_start
from tests.factories import EmployeeFactory
from tests.scim import idp_requests as idp
from tests.scim.conftest import assert_scim_error, patch_body, user_body
from tests.scim.factories import ScimSettingsFactory


def _employee(org, user_id) -> Employee:
    return Employee.objects.for_org(org).get(pk=int(user_id))


def _case(org, employee) -> Offboarding | None:
    return Offboarding.objects.for_org(org).filter(employee=employee).order_by("-pk").first()


# --- create, read, search ----------------------------------------------------------------------


def test_okta_creates_an_employee_with_the_email_as_username(scim, org):
    status, body = scim.post("/Users", idp.okta_create_user("Test.User@okta.local"))
    assert status == 201, body
    assert scim.last["Location"] == f"http://testserver/scim/v2/Users/{body['id']}"
    assert scim.last["Content-Type"] == "application/scim+json"
    employee = _employee(org, body["id"])
    assert (employee.email, employee.full_name, employee.external_id) == (
        "test.user@okta.local", "Test User", "00ujl29u0le5T6Aj10h7")
    assert body["userName"] == "test.user@okta.local"
    assert body["name"] == {"givenName": "Test", "familyName": "User"}
    assert body["active"] is True
    assert "password" not in body  # not kept: the schema does not have it
    assert body["locale"] == "en-US" and employee.language == "en"  # Okta's locale: no preferredLanguage sent
    created = AuditEvent.objects.for_org(org).get(event="employee.created", target_id=body["id"])
    assert created.source == "scim" and created.actor_label == "API token “Okta SCIM”"


def test_entra_creates_an_employee_and_its_unmapped_attributes_are_ignored(scim, org):
    status, body = scim.post("/Users", idp.entra_create_user())
    assert status == 201, body
    assert body["schemas"] == [idp.USER]
    assert body["name"]["formatted"] == "givenName familyName"
    assert _employee(org, body["id"]).full_name == "Test User"  # displayName first, then the name
    for dropped in ("title", "addresses", "phoneNumbers", idp.ENTERPRISE):
        assert dropped not in body


def test_a_username_that_is_not_an_email_is_refused_and_nothing_is_created(scim, org):
    assert_scim_error(scim.post("/Users", user_body("Test_User_ab6490ee")), 400, "invalidValue")
    assert not Employee.objects.for_org(org).exists()


def test_a_taken_email_or_external_id_is_a_uniqueness_conflict(scim, org):
    EmployeeFactory(organization=org, email="ada@acme.test", external_id="HR-1")
    body = assert_scim_error(scim.post("/Users", user_body("ADA@acme.test")), 409, "uniqueness")
    assert "ada@acme.test" in body["detail"]
    assert_scim_error(scim.post("/Users", user_body("bob@acme.test", externalId="HR-1")), 409, "uniqueness")
    assert Employee.objects.for_org(org).count() == 1


def test_okta_finds_an_existing_employee_by_username_before_creating(scim, org):
    hr = EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace", external_id="HR-1")
    status, body = scim.get('/Users?filter=userName eq "Ada@Acme.test"&startIndex=1&count=100')
    assert status == 200
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == str(hr.pk)
    user = body["Resources"][0]
    assert user["displayName"] == "Ada Lovelace" and user["externalId"] == "HR-1" and user["active"] is True
    assert user["emails"] == [{"value": "ada@acme.test", "type": "work", "primary": True}]
    status, body = scim.get(idp.entra_user_filter("nobody@acme.test"))
    assert (status, body["totalResults"], body.get("Resources", [])) == (200, 0, [])


def test_filters_on_external_id_active_and_display_name(scim, org):
    EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace", external_id="HR-1")
    EmployeeFactory(organization=org, email="bob@acme.test", full_name="Bob Builder", external_id="hr-1")
    leaver = EmployeeFactory(organization=org, email="lea@acme.test", full_name="Lea Leaver")
    offboarding_start(organization=org, employee=leaver, actor=Actor.system("tests"))

    def ids(query):
        status, body = scim.get("/Users?filter=" + query)
        assert status == 200, body
        return sorted(r["userName"] for r in body.get("Resources", []))

    assert ids('externalId eq "HR-1"') == ["ada@acme.test"]  # externalId is case-exact
    assert ids("active eq false") == ["lea@acme.test"]
    assert ids('displayName co "b" and active eq true') == ["bob@acme.test"]
    assert ids('userName sw "ADA" or emails[value ew "lea@acme.test"]') == ["ada@acme.test", "lea@acme.test"]
    assert ids('not (userName eq "ada@acme.test")') == ["bob@acme.test", "lea@acme.test"]
    assert_scim_error(scim.get('/Users?filter=title eq "boss"'), 400, "invalidFilter")
    assert_scim_error(scim.get("/Users?filter=userName eq"), 400, "invalidFilter")


def test_pages_by_index(scim, org):
    for n in range(5):
        EmployeeFactory(organization=org, email=f"e{n}@acme.test")
    status, body = scim.get("/Users?startIndex=2&count=2")
    assert status == 200
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (5, 2, 2)
    assert [r["userName"] for r in body["Resources"]] == ["e1@acme.test", "e2@acme.test"]
    status, body = scim.get("/Users?startIndex=5&count=10")
    assert [r["userName"] for r in body["Resources"]] == ["e4@acme.test"]
    _, body = scim.get("/Users?count=500")  # bounded by maxResults
    assert body["itemsPerPage"] == 5
    assert_scim_error(scim.get("/Users?sortBy=userName"), 501)  # sorting is not offered


def test_reading_a_page_costs_the_same_queries_for_5_or_25_users(scim, org, django_assert_max_num_queries):
    for n in range(5):
        EmployeeFactory(organization=org, email=f"e{n}@acme.test")
    with django_assert_max_num_queries(8) as few:
        assert scim.get("/Users")[0] == 200
    for n in range(5, 25):
        EmployeeFactory(organization=org, email=f"e{n}@acme.test")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert scim.get("/Users")[1]["itemsPerPage"] == 25


# --- updates -----------------------------------------------------------------------------------


def test_okta_put_replaces_the_profile(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    status, body = scim.put(f"/Users/{user_id}", idp.okta_replace_user(user_id))
    assert status == 200, body
    employee = _employee(org, user_id)
    assert employee.full_name == "Another User"
    assert body["name"]["givenName"] == "Another"
    updated = AuditEvent.objects.for_org(org).get(event="employee.updated", target_id=user_id)
    assert updated.source == "scim" and updated.after == {"full_name": "Another User"}
    assert AuditEvent.objects.for_org(org).filter(event="scim.user_updated", source="scim").exists()


def test_entra_patch_with_capitalised_ops_and_a_filtered_path(scim, org):
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    status, body = scim.patch(f"/Users/{user_id}", idp.ENTRA_UPDATE_USER)
    assert status == 200, body
    assert body["emails"] == [{"value": "updatedEmail@microsoft.test", "type": "work", "primary": True}]
    assert body["name"]["familyName"] == "updatedFamilyName"
    assert body["userName"] == "test_user@contoso.test"  # the e-mail is the userName, not emails[work]
    # The manager (enterprise extension) is not kept: accepted, and nothing changes.
    status, after = scim.patch(f"/Users/{user_id}", idp.ENTRA_ADD_MANAGER)
    assert status == 200 and idp.ENTERPRISE not in after


def test_a_username_change_changes_the_employees_email(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    status, _body = scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "userName", "value": "renamed@okta.local"}))
    assert status == 200
    assert _employee(org, user_id).email == "renamed@okta.local"
    EmployeeFactory(organization=org, email="taken@okta.local")
    assert_scim_error(scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "userName", "value": "taken@okta.local"})), 409, "uniqueness")
    assert _employee(org, user_id).email == "renamed@okta.local"


def test_the_cockpits_full_name_wins_once_an_admin_changed_it(scim, org, actor):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    employee_update(employee=_employee(org, user_id), actor=actor, full_name="Testa Userova")
    body = scim.get(f"/Users/{user_id}")[1]
    assert body["displayName"] == "Testa Userova" and body["name"] == {"formatted": "Testa Userova"}


def test_okta_password_pushes_are_accepted_and_change_nothing(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    before = AuditEvent.objects.for_org(org).count()
    status, body = scim.patch(f"/Users/{user_id}", idp.OKTA_PASSWORD)
    assert status == 200 and "password" not in body
    assert AuditEvent.objects.for_org(org).count() == before


def test_active_cannot_be_removed(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    assert_scim_error(scim.patch(f"/Users/{user_id}", patch_body({"op": "remove", "path": "active"})),
                      400, "mutability")
    assert _case(org, _employee(org, user_id)) is None


# --- deactivation: never a deletion ------------------------------------------------------------


def test_okta_deactivation_drafts_an_offboarding_by_default(scim, org):
    user_id = scim.post("/Users", idp.okta_create_user())[1]["id"]
    status, body = scim.patch(f"/Users/{user_id}", idp.OKTA_DEACTIVATE)
    assert status == 200 and body["active"] is False
    employee = _employee(org, user_id)
    case = _case(org, employee)
    assert case.status == Offboarding.Status.DRAFT and employee.is_active  # IT decides each device, then completes
    assert case.started_by_label == "API token “Okta SCIM”"
    entry = AuditEvent.objects.for_org(org).get(event="scim.user_deactivated")
    assert entry.source == "scim" and entry.after["offboarding"] == case.pk
    assert "deactivated" in entry.sentence and "through SCIM" in entry.sentence
    # Again (Okta retries): nothing more.
    assert scim.patch(f"/Users/{user_id}", idp.OKTA_DEACTIVATE)[0] == 200
    assert Offboarding.objects.for_org(org).count() == 1


def test_entra_deactivation_schedules_when_the_organization_says_so(scim, org):
    ScimSettingsFactory(organization=org, deactivation="schedule", schedule_after_days=3)
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    status, body = scim.patch(f"/Users/{user_id}", idp.ENTRA_DISABLE_USER)
    assert status == 200 and body["active"] is False
    case = _case(org, _employee(org, user_id))
    assert case.status == Offboarding.Status.SCHEDULED
    assert case.effective_date == timezone.localdate() + timedelta(days=3)


def test_a_scheduled_deactivation_waits_for_a_later_end_date(scim, org):
    ScimSettingsFactory(organization=org, deactivation="schedule", schedule_after_days=1)
    end = timezone.localdate() + timedelta(days=20)
    employee = EmployeeFactory(organization=org, email="ada@acme.test", end_date=end)
    assert scim.patch(f"/Users/{employee.pk}", idp.OKTA_DEACTIVATE)[0] == 200
    assert _case(org, employee).effective_date == end


def test_reactivation_cancels_the_offboarding_scim_started(scim, org):
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    scim.patch(f"/Users/{user_id}", idp.ENTRA_DISABLE_USER)
    status, body = scim.patch(f"/Users/{user_id}", idp.ENTRA_ENABLE_USER)
    assert status == 200 and body["active"] is True
    case = _case(org, _employee(org, user_id))
    assert case.status == Offboarding.Status.CANCELLED and "SCIM" in case.cancel_reason
    assert AuditEvent.objects.for_org(org).filter(event="scim.user_reactivated", source="scim").exists()
    cancelled = AuditEvent.objects.for_org(org).get(event="offboarding.cancelled")
    with translation.override("fr"):  # stored as its code: the reader's language, not the request's
        assert cancelled.reason == "Réactivé par le fournisseur d'identité (SCIM)"


def test_reactivation_leaves_an_admins_offboarding_alone_and_says_so(scim, org, actor):
    employee = EmployeeFactory(organization=org, email="ada@acme.test")
    case = offboarding_start(organization=org, employee=employee, actor=actor)
    status, body = scim.patch(f"/Users/{employee.pk}", idp.OKTA_REACTIVATE)
    assert status == 200 and body["active"] is False
    case.refresh_from_db()
    assert case.status == Offboarding.Status.DRAFT
    refused = AuditEvent.objects.for_org(org).get(event="scim.user_reactivation_refused")
    assert f"#{case.pk}" in refused.sentence
    with translation.override("fr"):  # stored as its code: the reader's language, not the request's
        assert "un administrateur a engagé son départ" in refused.sentence and f"{case.pk})" in refused.sentence


def test_an_offboarded_employee_is_inactive_and_stays_so(scim, org, actor):
    employee = EmployeeFactory(organization=org, email="ada@acme.test")
    offboarding_complete(offboarding=offboarding_start(organization=org, employee=employee, actor=actor), actor=actor)
    assert scim.get(f"/Users/{employee.pk}")[1]["active"] is False
    status, body = scim.put(f"/Users/{employee.pk}", idp.okta_replace_user(str(employee.pk), "ada@acme.test"))
    assert status == 200 and body["active"] is False
    assert AuditEvent.objects.for_org(org).filter(event="scim.user_reactivation_refused").exists()


def test_a_user_created_inactive_gets_its_offboarding_at_once(scim, org):
    status, body = scim.post("/Users", user_body("late@acme.test", active=False))
    assert status == 201 and body["active"] is False
    assert _case(org, _employee(org, body["id"])).status == Offboarding.Status.DRAFT


def test_delete_deactivates_and_detaches_but_deletes_nothing(scim, org):
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    status, body = scim.delete(f"/Users/{user_id}")
    assert (status, body) == (204, None)
    employee = _employee(org, user_id)  # still there, with its history
    assert _case(org, employee).status == Offboarding.Status.DRAFT
    assert_scim_error(scim.get(f"/Users/{user_id}"), 404)  # RFC 7644 §3.6: gone for SCIM
    assert scim.get(idp.entra_user_filter("test_user@contoso.test"))[1]["totalResults"] == 0
    assert_scim_error(scim.delete(f"/Users/{user_id}"), 404)
    assert AuditEvent.objects.for_org(org).filter(event="scim.user_removed", target_id=user_id).exists()


def test_creating_a_deleted_user_again_provisions_the_same_employee(scim, org):
    user_id = scim.post("/Users", idp.entra_create_user())[1]["id"]
    scim.delete(f"/Users/{user_id}")
    status, body = scim.post("/Users", idp.entra_create_user())
    assert status == 201 and body["id"] == user_id and body["active"] is True
    assert _case(org, _employee(org, user_id)).status == Offboarding.Status.CANCELLED
    assert Employee.objects.for_org(org).count() == 1
    assert AuditEvent.objects.for_org(org).filter(event="scim.user_restored").exists()


def test_a_deleted_user_created_again_without_active_is_active(scim, org):
    user_id = scim.post("/Users", user_body("ada@acme.test"))[1]["id"]
    scim.delete(f"/Users/{user_id}")
    status, body = scim.post("/Users", user_body("ada@acme.test"))
    assert (status, body["id"], body["active"]) == (201, user_id, True)
