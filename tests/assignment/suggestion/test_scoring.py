"""The pure scorer: each evidence kind, conflicts, ties, offboarded people, rejection memory."""

import pytest

from assignment.suggestion.scoring import (
    MIN_CONFIDENCE,
    DeviceFacts,
    Directory,
    Kind,
    Person,
    email_kind,
    fingerprint,
    gather_evidence,
    local_username,
    possessive_first_name,
    score_device,
    score_devices,
    tokens,
)

ADA = Person(1, "ada@acme.test", "Ada Lovelace", "alovelace", label="Ada Lovelace")
BOB = Person(2, "bob@acme.test", "Bob Martin", "bmartin", label="Bob Martin")
CAROL = Person(3, "carol@acme.test", "Carol Shaw", "cshaw", active=False, label="Carol Shaw")
ADA2 = Person(4, "ada.byron@acme.test", "Ada Byron", "abyron")


@pytest.fixture
def directory():
    return Directory([ADA, BOB, CAROL])


def facts(**kwargs):
    return DeviceFacts(device_id=kwargs.pop("device_id", 10), **kwargs)


def kinds_for(score, employee_id):
    return {e["kind"] for e in score.evidence if e["employee_id"] == employee_id}


@pytest.mark.parametrize("source, kind, confidence", [
    ("mdm_idp_accounts", Kind.SSO_EMAIL, 0.9),
    ("identity_provider", Kind.SSO_EMAIL, 0.9),
    ("custom_installer", Kind.INSTALLER_EMAIL, 0.7),
    ("custom", Kind.INSTALLER_EMAIL, 0.7),
    ("google_chrome_profiles", Kind.BROWSER_PROFILE_EMAIL, 0.4),
    ("custom_override", Kind.OTHER_EMAIL, 0.3),
])
def test_each_email_source_is_evidence_of_its_kind(directory, source, kind, confidence):
    score = score_device(facts(emails=(("ADA@acme.test ", source),)), directory)
    assert score.employee_id == ADA.id
    assert score.confidence == pytest.approx(confidence)
    assert score.evidence == [{
        "kind": kind, "value": "ada@acme.test", "detail": source, "employee_id": ADA.id, "employee": "Ada Lovelace",
        "active": True, "weight": confidence,
    }]
    assert email_kind(source) == kind


def test_an_unknown_email_is_no_evidence(directory):
    assert score_device(facts(emails=(("stranger@elsewhere.test", "mdm_idp_accounts"),)), directory) is None


@pytest.mark.parametrize("name, how", [
    ("Ada's MacBook Pro", "first name"),
    ("Ada’s iPhone", "first name"),
    ("ada-lovelace-mbp", "full name"),
    ("LOVELACE Ada (laptop)", "full name"),
    ("adalovelace-pc", "full name"),
    ("alovelace-mbp", "user name"),
])
def test_device_name_containing_the_employees_name(directory, name, how):
    score = score_device(facts(name=name), directory)
    assert score.employee_id == ADA.id
    [piece] = score.evidence
    assert (piece["kind"], piece["value"], piece["detail"]) == (Kind.DEVICE_NAME, name, how)
    assert score.confidence == pytest.approx(piece["weight"])


def test_hostname_is_read_like_the_name_and_counts_once(directory):
    score = score_device(facts(name="ada-lovelace-mbp", hostname="ada-lovelace-mbp.local"), directory)
    assert len(score.evidence) == 2 and kinds_for(score, ADA.id) == {Kind.DEVICE_NAME}
    assert score.confidence == pytest.approx(0.45)  # one hint, not two


def test_first_name_alone_needs_exactly_one_such_employee():
    directory = Directory([ADA, BOB, ADA2])
    assert score_device(facts(name="Ada's MacBook Pro"), directory) is None
    assert score_device(facts(name="MacBook Pro"), Directory([ADA])) is None
    # A first name anywhere else in the name is not an owner's mark.
    assert score_device(facts(name="MacBook of ada"), Directory([ADA])) is None


def test_device_words_are_never_user_names():
    directory = Directory([Person(7, "pro@acme.test", "", "pro")])
    assert score_device(facts(name="MacBook Pro"), directory) is None


def test_local_account_matching_the_directory_user_name(directory):
    score = score_device(facts(local_users=("root", "CORP\\alovelace", "_mbsetupuser")), directory)
    assert score.employee_id == ADA.id
    assert [(e["kind"], e["value"]) for e in score.evidence] == [(Kind.LOCAL_ACCOUNT, "CORP\\alovelace")]
    assert score.confidence == pytest.approx(0.6)
    assert local_username("Administrator") == "" and local_username("ada@corp") == "ada"


def test_previous_owner_supports_but_never_proposes_alone(directory):
    assert score_device(facts(previous_owner_id=ADA.id), directory) is None
    with_installer = score_device(facts(emails=(("ada@acme.test", "custom"),), previous_owner_id=ADA.id), directory)
    assert with_installer.employee_id == ADA.id
    assert kinds_for(with_installer, ADA.id) == {Kind.INSTALLER_EMAIL, Kind.PREVIOUS_OWNER}
    assert with_installer.confidence == pytest.approx(1 - 0.3 * 0.7)


def test_agreeing_evidence_raises_confidence(directory):
    sso = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"),)), directory)
    both = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"), ("ada@acme.test", "custom_installer"))),
                        directory)
    assert both.confidence == pytest.approx(1 - 0.1 * 0.3)
    assert both.confidence > sso.confidence


def test_conflicting_evidence_lowers_confidence(directory):
    alone = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"),)), directory)
    browser_bob = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"),
                                             ("bob@acme.test", "google_chrome_profiles"))), directory)
    installer_bob = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"),
                                               ("bob@acme.test", "custom_installer"))), directory)
    assert browser_bob.employee_id == installer_bob.employee_id == ADA.id
    assert alone.confidence > browser_bob.confidence > installer_bob.confidence
    assert browser_bob.confidence == pytest.approx(0.9 * 0.6)
    assert installer_bob.confidence == pytest.approx(0.9 * 0.3)
    # The evidence against is listed too, after the evidence for.
    assert [e["employee_id"] for e in browser_bob.evidence] == [ADA.id, BOB.id]


def test_equal_evidence_for_two_people_names_nobody(directory):
    assert score_device(facts(emails=(("ada@acme.test", "custom"), ("bob@acme.test", "custom"))), directory) is None


def test_offboarded_employee_is_never_suggested_but_counts_against(directory):
    assert score_device(facts(emails=(("carol@acme.test", "mdm_idp_accounts"),)), directory) is None
    assert score_device(facts(name="carol-shaw-mbp"), directory) is None  # leavers' names are not indexed
    against_leaver = facts(emails=(("carol@acme.test", "mdm_idp_accounts"), ("ada@acme.test", "custom")))
    score = score_device(against_leaver, directory, min_confidence=0)
    assert score.employee_id == ADA.id
    assert score.confidence == pytest.approx(0.7 * 0.1)  # Carol's sign-in weighs against Ada
    assert score_device(against_leaver, directory) is None  # below MIN_CONFIDENCE: no suggestion
    assert score_device(facts(previous_owner_id=CAROL.id, emails=(("ada@acme.test", "custom"),)),
                        directory).confidence == pytest.approx(0.7)  # an offboarded previous owner is ignored


def test_confidence_below_the_floor_is_not_a_suggestion():
    directory = Directory([ADA, CAROL])
    weak = facts(emails=(("carol@acme.test", "mdm_idp_accounts"), ("ada@acme.test", "google_chrome_profiles")))
    assert score_device(weak, directory, min_confidence=MIN_CONFIDENCE) is None


def test_rejected_fingerprint_is_not_proposed_again_on_the_same_evidence(directory):
    device = facts(emails=(("ada@acme.test", "custom"),), name="Bob's MacBook")
    first = score_device(device, directory)
    assert first.employee_id == ADA.id
    assert first.fingerprint == fingerprint(10, ADA.id, [e for e in gather_evidence(device, directory)])
    # Rejected: the next candidate (Bob, by the device name) is considered, with Ada's evidence against him.
    second = score_device(device, directory, rejected={first.fingerprint}, min_confidence=0)
    assert second.employee_id == BOB.id and second.confidence == pytest.approx(0.25 * 0.3)
    assert score_device(device, directory, rejected={first.fingerprint}) is None  # too weak to propose
    # New evidence for Ada (she signs in with SSO) is a new fingerprint: proposed again.
    changed = facts(emails=(("ada@acme.test", "custom"), ("ada@acme.test", "mdm_idp_accounts")), name="Bob's MacBook")
    again = score_device(changed, directory, rejected={first.fingerprint})
    assert again.employee_id == ADA.id and again.fingerprint != first.fingerprint


def test_fingerprint_ignores_weights_order_and_evidence_about_others(directory):
    one = score_device(facts(emails=(("ada@acme.test", "custom"), ("ada@acme.test", "mdm_idp_accounts"))), directory)
    two = score_device(facts(emails=(("ada@acme.test", "mdm_idp_accounts"), ("ada@acme.test", "custom"),
                                     ("bob@acme.test", "google_chrome_profiles"))), directory)
    assert one.fingerprint == two.fingerprint
    other_device = score_device(facts(device_id=11, emails=(("ada@acme.test", "custom"),
                                                             ("ada@acme.test", "mdm_idp_accounts"))), directory)
    assert other_device.fingerprint != one.fingerprint


def test_score_devices_keeps_only_devices_with_a_suggestion(directory):
    scores = score_devices(
        [facts(device_id=1, emails=(("ada@acme.test", "idp"),)), facts(device_id=2, name="kiosk-lobby"),
         facts(device_id=3, name="bob-martin-pc")],
        directory,
    )
    assert {d: s.employee_id for d, s in scores.items()} == {1: ADA.id, 3: BOB.id}


def test_text_helpers():
    assert tokens("Zoë's MacBook-Pro.local") == ["zoe", "s", "macbook", "pro", "local"]
    assert possessive_first_name("Zoë’s iPad") == "zoe"
    assert possessive_first_name("iPad de Zoë") == ""
