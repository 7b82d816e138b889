import gc
import threading
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test.testcases import QuietWSGIRequestHandler
from rest_framework.test import APIClient
from whitenoise.middleware import WhiteNoiseMiddleware

from core.actors import Actor
from core.models import Membership
from core.services import api_token_create
from devices import services as device_services
from mdm_sync.fleet import FleetClient
from mdm_sync.models import SyncRun
from mdm_sync.services import fleet_connection_save
from mdm_sync.simulator import Faults, FleetSimulator
from tests import migrations
from tests.factories import DeviceFactory, EmployeeFactory, MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "correct-horse-battery"

_finder_files: dict[tuple, dict] = {}
_add_files_from_finders = WhiteNoiseMiddleware.add_files_from_finders


def _add_files_from_finders_once(self):
    """WhiteNoise (WHITENOISE_USE_FINDERS) lists and stats every static file each time its middleware is built, and a
    test client builds the middleware for itself: ~12 ms a test. The static files do not change during a run, so the
    files the finders add are listed once per set of the settings they depend on."""
    from django.conf import settings

    key = (self.static_prefix, self.max_age, self.allow_all_origins, self.charset, str(settings.STATIC_ROOT),
           tuple(map(str, settings.STATICFILES_DIRS)), tuple(settings.STATICFILES_FINDERS),
           tuple(settings.INSTALLED_APPS))
    if key not in _finder_files:
        before = dict(self.files)
        _add_files_from_finders(self)
        _finder_files[key] = {url: file for url, file in self.files.items() if before.get(url) is not file}
    self.files.update(_finder_files[key])


WhiteNoiseMiddleware.add_files_from_finders = _add_files_from_finders_once

# The live server (pytest-django's ``live_server``: Django's test server) answers a request in several writes; on a
# kept-alive connection, Nagle's algorithm then holds the last one until the client acknowledges the first, which
# loopback's delayed acknowledgement puts off ~40 ms: each request of a client that keeps its connection open (the
# SCIM checker, Chromium) waited that long. ``disable_nagle_algorithm`` is socketserver's own switch for it.
QuietWSGIRequestHandler.disable_nagle_algorithm = True


@pytest.hookimpl(trylast=True)  # after pytest-django's order (database tests, transactional ones, the others)
def pytest_collection_modifyitems(items):
    """The slow tests first (real processes, mostly waiting, were last), so that the parallel workers finish
    together instead of one running a 40 s test at the end. Each transactional test leaves the database as
    migrations left it (flushed; contenttypes and permissions rebuilt), so the tests after it do not mind."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_collection_finish(session):
    """What collection built (Django's models and URLconf, the schema and its schemathesis cases, the test modules)
    lives until the run ends; frozen, the cyclic garbage collector stops walking it on every full collection of the
    tests' own garbage: ~10 % of the schemathesis module's CPU."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users get passwords; the production hasher would cost ~0.5 s per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: ids repeat between tests, cached counts must not."""
    cache.clear()
    yield


@pytest.fixture
def org(db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def scratch_database(django_db_modify_db_settings, django_db_blocker):
    """An empty database in place of the test database for a data-migration test (``tests/migrations.py``), which
    the test's migrations move forwards only from nothing; the test database is neither migrated nor flushed. The
    test takes no ``django_db`` mark (``django_db_modify_db_settings``: the scratch database's name has this xdist
    worker's suffix, like the test database's)."""
    with django_db_blocker.unblock(), migrations.scratch_database():
        yield


@contextmanager
def rows_shared_by_the_module(django_db_blocker):
    """For a module-scoped fixture whose rows its module's tests only read or change in their own transaction: the
    rows are written once, in a transaction rolled back when the fixture is torn down, and each test runs in a
    savepoint of it (pytest-django's ``db``), so whatever a test changes is undone after it, as with Django's
    ``TestCase.setUpTestData``. A fixture using it returns ids and plain values, not model instances a test could
    change in memory. (Under xdist a worker that runs the module's tests in several stretches writes them again
    for each stretch.)"""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


def member(organization, role=Membership.Role.ADMIN, **user_kwargs):
    return MembershipFactory(organization=organization, role=role, user=UserFactory(**user_kwargs)).user


@pytest.fixture
def admin_user(org):
    return member(org, Membership.Role.ADMIN)


@pytest.fixture
def actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def cockpit_client(client, admin_user):
    client.force_login(admin_user)
    return client


def token_key(organization, scope="write", name="HR tool"):
    _token, key = api_token_create(organization=organization, name=name, scope=scope, actor=Actor.system("tests"))
    return key


def api_client_for(key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(org):
    """An API client holding a write token of ``org``."""
    return api_client_for(token_key(org, "write"))


@pytest.fixture
def read_api(org):
    return api_client_for(token_key(org, "read", name="Reporting"))


@pytest.fixture
def employee(org):
    return EmployeeFactory(organization=org, full_name="Ada Lovelace", email="ada@acme.test")


@pytest.fixture
def device(org):
    return DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001")


@pytest.fixture
def assigned_device(org, employee, actor):
    device = DeviceFactory(organization=org, name="assigned-mbp", serial_number="C02ASG001")
    return device_services.device_assign(device=device, employee=employee, actor=actor)


def assert_error(response, status, *, code=None, field=None) -> dict:
    """Every API error has the shape ``{status, code, detail, fields}``; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "code", "detail", "fields"}, body
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["fields"], dict)
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert field in body["fields"], body
        assert body["fields"][field] and all(isinstance(m, str) for m in body["fields"][field])
    return body


# --- Fleet: the project's simulator on loopback, and a sync against it ------------------------------

SIM_TOKEN = "sim-token"
SIM_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _simulator(hosts: int = 120) -> FleetSimulator:
    return FleetSimulator(hosts=hosts, seed=5, token=SIM_TOKEN, now=SIM_NOW)


def running_simulator(hosts: int = 120):
    """The body of a ``sim`` fixture (``yield from running_simulator()``); a module whose tests need fewer hosts
    overrides ``sim`` with a smaller fleet. Stopping a simulator waits for its server's next poll (up to 50 ms):
    the next test does not wait for it."""
    simulator = _simulator(hosts).start()
    try:
        yield simulator
    finally:
        threading.Thread(target=simulator.stop, name="fleet-simulator-stop", daemon=True).start()


@pytest.fixture
def sim():
    """A Fleet simulator with 120 hosts in every health situation (``sim.situation(host_id)``), the test's own:
    it may change it (hosts, faults, APNs, labels, wipes). A test that only reads Fleet takes ``sim_readonly``."""
    yield from running_simulator()


@pytest.fixture(scope="module")
def _module_sim():
    with _simulator() as simulator:
        yield simulator


@pytest.fixture
def sim_readonly(_module_sim):
    """The same fleet as ``sim``, served once per test module, for tests that only read it (list, get, sync
    without groups or wipes), which then share one server instead of starting and stopping one each.

    Its ``requests_log`` starts empty. A test that changes it fails: a request other than GET reached it, or its
    hosts, faults, APNs certificate or labels differ afterwards. (Changes through its Python methods, such as
    ``update_host``, are not all seen: a test that makes them takes ``sim``.)"""
    simulator = _module_sim
    simulator.requests_log.clear()
    before = _readonly_state(simulator)
    yield simulator
    writes = [request for request in simulator.requests_log if request[0] != "GET"]
    assert not writes, f"a test on sim_readonly changed Fleet: {writes[:3]} (take ``sim``)"
    assert _readonly_state(simulator) == before, "a test on sim_readonly changed the simulator (take ``sim``)"


def _readonly_state(simulator: FleetSimulator) -> tuple:
    return (simulator.host_ids(), simulator.faults == Faults(), simulator.apns, simulator.apns_renew_date,
            simulator.manual_labels(), len(simulator.labels()))


@pytest.fixture
def connected(request, org):
    """``org``, connected to the test's simulator: ``sim_readonly`` when the test takes it, otherwise ``sim``."""
    shared = "sim_readonly" in request.fixturenames
    simulator = request.getfixturevalue("sim_readonly" if shared else "sim")
    fleet_connection_save(organization=org, url=simulator.base_url, token=SIM_TOKEN, actor=Actor.system("tests"),
                          test=False)
    return org


def sync_now(org, sim, **kwargs) -> SyncRun:
    """One sync of ``org`` against ``sim`` at ``SIM_NOW`` (no retries), with small pages."""
    from mdm_sync.sync import sync_organization

    client = FleetClient(sim.base_url, SIM_TOKEN, retries=0, backoff=0)
    return sync_organization(organization=org, trigger=SyncRun.Trigger.COMMAND, actor=Actor.system("tests"),
                             client=client, per_page=kwargs.pop("per_page", 25), now=kwargs.pop("now", SIM_NOW),
                             **kwargs)


# --- Device commands (wipes, removals from Fleet) ---------------------------------------------------


@pytest.fixture(autouse=True)
def command_queue(request, monkeypatch):
    """The organizations whose command sender a committed move queued: tests send nothing to the broker unless
    marked ``real_broker``; ``commands_run_now`` runs the sender in-process instead, as a worker would."""
    if request.node.get_closest_marker("real_broker"):
        return None
    from devices import commands

    queued = []
    monkeypatch.setattr(commands, "queue_command_sending", queued.append)
    return queued


@pytest.fixture
def commands_run_now(monkeypatch):
    """The command sender queued after commit runs in-process (the real Celery task, applied) instead of on the
    broker."""
    from devices import commands
    from mdm_sync.tasks import send_device_commands

    monkeypatch.setattr(commands, "queue_command_sending",
                        lambda organization_id: send_device_commands.apply(args=[organization_id]).get())
