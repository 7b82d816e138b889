"""Browser tests: the real cockpit in headless Chromium (Debian's package) driven by Playwright.

Use the ``page`` fixture (or ``browser.new_context``) with pytest-django's ``live_server``, and mark the module
``pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]``.

One Chromium serves the browser tests a worker runs in a row (one xdist group: one worker runs them all); each test
gets fresh contexts (cookies, storage, viewport, locale), and the contexts a test leaves open are closed after it.
Launching and closing Chromium per test cost about 2 s each.
"""

from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """The browser tests in one xdist group (``--dist loadgroup``): one worker runs them in a row, on one Chromium."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="package")
def _chromium():
    """Chromium, for the browser tests that run one after the other (package-scoped: it closes before any test of
    another package runs, so Playwright's event loop never outlives them)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser tests need Chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make alongside it (and the
    # database flush after each) are ordinary blocking calls, which Django would otherwise refuse from a thread
    # with a running loop. Scoped to these tests: left in os.environ it would leak into subprocesses (check
    # --deploy refuses it).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # Django keeps connections per context, and Playwright's greenlet has its own: the ORM calls made
                # while the browser ran opened a second connection that the test database teardown cannot see.
                connections.close_all()


@pytest.fixture
def browser(_chromium):
    """The shared Chromium; the contexts the test opened are closed after it, whatever happened."""
    yield _chromium
    for context in list(_chromium.contexts):
        context.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
