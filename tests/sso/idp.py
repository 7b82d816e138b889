"""Drives the peer's own sign-in pages (oidc-provider's development interactions) with ``requests``, as a person's
browser would: the login form (the login is the account: an e-mail, or ``unverified:<e-mail>``), then the consent
form, until the provider redirects back to the cockpit. The cockpit side is Django's test client."""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import requests

FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.I)
PROMPT = re.compile(r'name="prompt" value="(\w+)"')
ABORT = re.compile(r'href="([^"]*/abort)"')


def _form(page: requests.Response) -> tuple[str, str]:
    action, prompt = FORM.search(page.text), PROMPT.search(page.text)
    assert action and prompt, f"not an interaction page of the provider: {page.status_code} {page.text[:500]}"
    return urljoin(page.url, unescape(action.group(1))), prompt.group(1)


def idp_sign_in(authorization_url: str, login: str, *, cancel: bool = False,
                session: requests.Session | None = None) -> str:
    """The URL the provider redirects the browser to at the end (the cockpit's callback with code and state, or
    with ``error=access_denied`` when the person cancels at the consent step)."""
    session = session or requests.Session()
    issuer = urlsplit(authorization_url)
    url = authorization_url
    for _ in range(12):
        response = session.get(url, allow_redirects=False, timeout=10)
        while response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if urlsplit(location)[:2] != issuer[:2]:
                return location  # back to the cockpit
            response = session.get(location, allow_redirects=False, timeout=10)
        action, prompt = _form(response)
        if cancel and prompt == "consent":
            url = urljoin(response.url, unescape(ABORT.search(response.text).group(1)))
            continue
        data = {"prompt": prompt} | ({"login": login, "password": "any"} if prompt == "login" else {})
        posted = session.post(action, data=data, allow_redirects=False, timeout=10)
        assert posted.is_redirect, f"the provider refused the {prompt} form: {posted.status_code} {posted.text[:300]}"
        url = urljoin(posted.url, posted.headers["Location"])
        if urlsplit(url)[:2] != issuer[:2]:
            return url
    raise AssertionError("the provider never redirected back to the cockpit")


def start(client, slug: str):
    """The cockpit's redirect to the provider (``/sso/<slug>/login/``)."""
    return client.get(f"/sso/{slug}/login/")


def back_to_cockpit(client, callback_url: str):
    """The callback request the browser makes, made by the test client (same session)."""
    parts = urlsplit(callback_url)
    return client.get(parts.path, QUERY_STRING=parts.query)


def sso_sign_in(client, slug: str, login: str, *, cancel: bool = False):
    """The whole dance: the cockpit's answer at its callback."""
    started = start(client, slug)
    assert started.status_code == 302, started.content[:500]
    return back_to_cockpit(client, idp_sign_in(started["Location"], login, cancel=cancel))
