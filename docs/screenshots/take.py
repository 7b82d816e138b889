"""The screenshots in this folder: the dashboard, the inventory and a device page, in English and French, light/dark.

Run from the project root (headless Chromium: Debian's ``chromium``; Playwright from the dev extras)::

    .venv/bin/python docs/screenshots/take.py

It builds the demo organization on the embedded defaults in a temporary folder (SQLite, ``seed_demo`` with its 90
days of demo history), serves it with ``runserver`` on a free port, signs in as the demo admin and saves
``<page>-<language>-<theme>.png`` here (1366 px wide; the top 900 px of each page, the whole dashboard with
its trend charts). Nothing else is touched.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PAGES = {"dashboard": "/o/demo/", "inventory": "/o/demo/devices/"}
LANGUAGES = ("en", "fr")
THEMES = ("light", "dark")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own loopback server
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main() -> int:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="cockpit-screens-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(COCKPIT_VAR_DIR=str(folder), DEBUG="1")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"{base}/healthz")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            for language in LANGUAGES:
                for theme in THEMES:
                    context = browser.new_context(viewport={"width": 1366, "height": 900}, color_scheme=theme,
                                                  locale=language)
                    context.add_cookies([{"name": "django_language", "value": language, "url": base}])
                    page = context.new_page()
                    page.goto(f"{base}/login/")
                    page.fill("input[name=username]", "admin@demo.test")
                    page.fill("input[name=password]", "demo-cockpit")
                    page.click("form:has(input[name=password]) button[type=submit]")
                    page.wait_for_url(f"{base}/")  # the demo admin has two organizations: the chooser
                    for name, path in PAGES.items():
                        page.goto(base + path)
                        page.screenshot(path=OUT / f"{name}-{language}-{theme}.png", full_page=name == "dashboard")
                    page.goto(base + PAGES["inventory"])
                    page.click("table.list tbody tr a[href*='/devices/']")
                    page.wait_for_load_state()
                    page.screenshot(path=OUT / f"device-{language}-{theme}.png")
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"Saved {len(PAGES) + 1} pages x {len(LANGUAGES)} languages x {len(THEMES)} themes in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
