"""Fixtures of the single sign-on tests: a real OpenID provider (``tests/sso/peer/provider.mjs``, node's
oidc-provider) on a free loopback port for the whole session, and organizations configured to use it.

The peer's packages come from ``npm ci --prefix tests/sso/peer`` (CI runs it): without them the tests that need the
peer are skipped with that instruction locally, and fail under CI (``CI=true``).
"""

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from core.actors import Actor
from sso.services import sso_config_save

PEER_DIR = Path(__file__).resolve().parent / "peer"
SECRET = "cockpit-secret"  # every client's secret at the peer


@dataclass
class Peer:
    issuer: str
    process: subprocess.Popen


def _unavailable(reason: str):
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"The OpenID provider of the SSO tests cannot start: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """An address on loopback where nothing listens (an unreachable identity provider)."""
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="session")
def oidc_peer():
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed: the SSO tests run a real OpenID provider (node oidc-provider)")
    if not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("tests/sso/peer/node_modules is missing: run `npm ci --prefix tests/sso/peer`")
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([node, "provider.mjs"], cwd=PEER_DIR, env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read() if process.stdout else ""
            _unavailable(f"the OpenID provider did not start: {output[-2000:]}")
        time.sleep(0.1)
    yield Peer(issuer=issuer, process=process)
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def callback_base(settings):
    """The redirect URI the peer is given: a loopback address (the peer accepts those), then asked of the test
    client at its path."""
    settings.COCKPIT_BASE_URL = "http://127.0.0.1:8000"
    return settings.COCKPIT_BASE_URL


def configure(organization, peer: Peer, *, client_id: str = "cockpit", secret: str = SECRET, **options):
    """``organization``'s single sign-on with the peer (enabled), saved through the service."""
    fields = {"enabled": True, "sso_required": False, "jit_enabled": False, "jit_role": "viewer"} | options
    return sso_config_save(organization=organization, actor=Actor.system("tests"), issuer=peer.issuer,
                           client_id=client_id, client_secret=secret, **fields)


@pytest.fixture
def sso_org(org, oidc_peer, callback_base):
    configure(org, oidc_peer)
    return org
