"""The Fleet REST API client: the only code that speaks HTTP to Fleet.

It turns Fleet's JSON into the plain frozen dataclasses of :mod:`mdm_sync.fleet_types`; a body that
is not what Fleet sends (HTML from a proxy, truncated or invalid JSON, a wrong shape) is a clear
:class:`FleetBadResponse`. Transient failures (429 honouring ``Retry-After``, 5xx, connection
resets) are retried with exponential backoff by urllib3 before anything is raised.

Fleet renamed "teams" to "fleets" in 2026: responses carry both ``fleet_id`` and ``team_id``; we
read ``fleet_id`` and fall back to ``team_id``, and never send both spellings.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from mdm_sync.fleet_errors import FleetAuthError, FleetBadResponse, FleetError, FleetNotFound, FleetUnavailable
from mdm_sync.fleet_types import (
    BROWSER_SOURCES,
    LINUX_PLATFORMS,
    PLATFORMS,
    SSO_SOURCES,
    ApnsCertificate,
    DeviceMapping,
    EndUser,
    FleetHost,
    FleetLabel,
    LocalUser,
    MdmActionResult,
    is_installer_source,
    is_sso_source,
    parse_count,
    parse_mappings,
    parse_time,
    product_platform,
)
from mdm_sync.fleet_wire import WireHost, as_fleet_host, decode_host, decode_host_page, host_from_wire

# The names callers import from here: the client, its errors and the data it returns.
__all__ = [
    "BROWSER_SOURCES", "DEFAULT_PER_PAGE", "LINUX_PLATFORMS", "MAX_PAGES", "PLATFORMS", "SSO_SOURCES",
    "ApnsCertificate", "DeviceMapping", "EndUser", "FleetAuthError", "FleetBadResponse", "FleetClient", "FleetError",
    "FleetHost", "FleetLabel", "FleetNotFound", "FleetUnavailable", "LocalUser", "MdmActionResult", "WireHost",
    "as_fleet_host",
    "is_installer_source", "is_sso_source", "parse_time", "product_platform",
]

logger = logging.getLogger(__name__)

DEFAULT_PER_PAGE = 500
MAX_PAGES = 100_000  # 50 million hosts at 500 a page: past that the server is not paginating


def _fleet_error_text(response: requests.Response) -> str:
    """Fleet's error JSON (``message`` plus ``errors[{name, reason}]``) as one sentence."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    message = str(body.get("message") or f"HTTP {response.status_code}")
    reasons = [
        f"{item.get('name')}: {item.get('reason')}" if item.get("name") not in (None, "", "base") else
        str(item.get("reason"))
        for item in body.get("errors") or []
        if isinstance(item, dict) and item.get("reason")
    ]
    reasons = [reason for reason in reasons if reason != message]
    return f"{message} ({'; '.join(reasons)})" if reasons else message


# --- client ----------------------------------------------------------------------------------


class _CappedRetry(Retry):
    """urllib3's Retry, but a ``Retry-After`` longer than ``RETRY_AFTER_CAP`` is cut to it:
    a misconfigured server must not park a sync worker for an hour."""

    RETRY_AFTER_CAP = 60.0

    def get_retry_after(self, response):
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.RETRY_AFTER_CAP)


class FleetClient:
    """A Fleet server reached with an API-only user's token.

    ``retries`` counts attempts after the first on 429/5xx and connection failures (GET, DELETE;
    never a POST, whose side effect may already have happened). Waits grow as
    ``backoff * 2**n`` seconds, or follow ``Retry-After``.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, connect_timeout: float = 5.0,
                 retries: int = 4, backoff: float = 0.5, verify: bool | str = True):
        parts = urlsplit((base_url or "").strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FleetError(f"“{base_url}” is not a Fleet URL: use https://fleet.example.com")
        if not token:
            raise FleetAuthError("No Fleet API token is configured.")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.timeout = (connect_timeout, timeout)
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                     "User-Agent": "fleet-cockpit/1.0"})
        retry = _CappedRetry(
            total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"GET", "DELETE", "HEAD"}),
            respect_retry_after_header=True, raise_on_status=False,
        )
        # Room for a listing plus the sync's concurrent Get-host requests (mdm_sync.sync_listing.DETAIL_THREADS),
        # so that no kept-alive connection is discarded and reopened.
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # requests reads the proxy variables, the CA bundle variables and ~/.netrc again on every request (two scans
        # of os.environ and a stat: ~0.2 ms, a fifth of a Get host's CPU). Read the environment once, by the same
        # rules; a .netrc password never replaces the token.
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        if verify is True:
            self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.trust_env = False
        self._light = _LightGet(self.session, adapter, self.base_url, self.timeout)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FleetClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport --

    def _request(self, method: str, path: str, *, params=None, body=None, expect_json: bool = True,
                 raw: bool = False, light: bool = False):
        """The decoded JSON answer (None for an empty one); with ``raw``, the checked body's bytes, not decoded.

        ``light``: a GET goes through :class:`_LightGet` (the session's own connections, retries and errors, a
        fraction of the CPU) when no proxy is configured; the session otherwise."""
        url = f"{self.base_url}{path}"
        try:
            if light and self._light.usable and method == "GET" and body is None:
                response = self._light.get(f"{path}?{urlencode(params)}" if params else path)
            else:
                response = self.session.request(method, url, params=params, json=body, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            raise FleetUnavailable(
                f"TLS error talking to {self.base_url}: check its certificate ({_short(exc)})."
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise FleetUnavailable(
                f"{self.base_url} did not accept a connection within {self.timeout[0]:g} s."
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise FleetUnavailable(f"Fleet did not answer within {self.timeout[1]:g} s ({method} {path}).") from exc
        except requests.exceptions.RetryError as exc:
            raise FleetUnavailable(f"Fleet kept failing on {method} {path}: {_short(exc)}") from exc
        except requests.exceptions.ConnectionError as exc:
            # With retries configured, urllib3 hands over timeouts wrapped in MaxRetryError.
            cause = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(cause, urllib3_exceptions.ReadTimeoutError):
                raise FleetUnavailable(f"Fleet did not answer within {self.timeout[1]:g} s ({method} {path}).") from exc
            # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError in urllib3: test it first.
            if isinstance(cause, urllib3_exceptions.ConnectTimeoutError) and not isinstance(
                cause, urllib3_exceptions.NewConnectionError
            ):
                raise FleetUnavailable(
                    f"{self.base_url} did not accept a connection within {self.timeout[0]:g} s."
                ) from exc
            raise FleetUnavailable(f"Cannot reach {self.base_url}: {_connection_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise FleetUnavailable(f"{method} {path} failed: {_short(exc)}") from exc
        return self._check(response, method, path, expect_json, raw)

    def _check(self, response: requests.Response, method: str, path: str, expect_json: bool, raw: bool = False):
        status = response.status_code
        if status in (401, 403):
            raise FleetAuthError(f"Fleet refused the API token: {_fleet_error_text(response)}", status=status)
        if status == 404:
            raise FleetNotFound(f"Not found in Fleet: {_fleet_error_text(response)}", status=status)
        if status == 429 or status >= 500:
            raise FleetUnavailable(
                f"Fleet kept failing on {method} {path}: {_fleet_error_text(response)}", status=status
            )
        if status >= 400:
            raise FleetError(f"Fleet refused {method} {path}: {_fleet_error_text(response)}", status=status)
        if not expect_json or status == 204 or not response.content:
            return b"" if raw and expect_json else None
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise FleetBadResponse(
                f"Fleet answered {method} {path} with an HTML page, not JSON: is the URL a login page or a proxy?",
                status=status,
            )
        return response.content if raw else _json(response.content, method, path, status)

    # -- hosts --

    def count_hosts(self) -> int:
        return parse_count(self._request("GET", "/api/v1/fleet/hosts/count"))

    def iter_host_pages(self, *, per_page: int = DEFAULT_PER_PAGE, device_mapping: bool = True,
                        users: bool = True) -> Iterator[list[FleetHost]]:
        """Every host, a page at a time, in ascending id order; ends on the first short page.

        Pages are asked for explicitly (omitting both ``page`` and ``per_page`` makes Fleet send
        the whole fleet in one body). Hosts enrolled or deleted meanwhile can shift a page by a few
        hosts; the caller cross-checks the total with :meth:`count_hosts`.
        """
        for page in self.iter_listed_pages(per_page=per_page, device_mapping=device_mapping, users=users):
            yield [as_fleet_host(host) for host in page]

    def iter_listed_pages(self, *, per_page: int = DEFAULT_PER_PAGE, device_mapping: bool = True,
                          users: bool = True) -> Iterator[list[WireHost | FleetHost]]:
        """The pages of :meth:`iter_host_pages`, each host as decoded: a :class:`WireHost` (the typed decoding,
        :mod:`mdm_sync.fleet_wire`), or a :class:`FleetHost` on a page only the tolerant parser could read.
        :func:`as_fleet_host` gives the FleetHost of either; the sync converts only the hosts that changed."""
        if per_page <= 0:
            raise ValueError("per_page must be positive")
        params = {"per_page": per_page, "order_key": "id", "order_direction": "asc",
                  "include_device_status": "true"}
        if device_mapping:
            params["device_mapping"] = "true"
        if users:  # the hosts' local accounts (``users``), which the list view leaves out otherwise
            params["populate_users"] = "true"
        last_id = 0
        for page in range(MAX_PAGES):
            body = self._request("GET", "/api/v1/fleet/hosts", params=params | {"page": page}, raw=True, light=True)
            hosts = decode_host_page(body)  # typed and fast; None: not the documented shape, parsed tolerantly
            if hosts is None:
                data = _json(body, "GET", "/api/v1/fleet/hosts")
                items = data.get("hosts") if isinstance(data, dict) else None
                if not isinstance(items, list):
                    raise FleetBadResponse(f"Fleet's host list on page {page} has no “hosts” array.")
                hosts = [FleetHost.from_json(item) for item in items]
            count = len(hosts)
            if hosts and hosts[0].id <= last_id and page > 0:
                if all(host.id <= last_id for host in hosts):
                    raise FleetBadResponse(
                        f"Fleet sent page {page} again (ids up to {last_id} already seen): it is not paginating."
                    )
                hosts = [host for host in hosts if host.id > last_id]  # shifted by a deletion: drop repeats
            if count > per_page:
                raise FleetBadResponse(f"Fleet sent {count} hosts for a page of {per_page}.")
            if hosts:
                last_id = hosts[-1].id
            yield hosts
            if count < per_page:
                return
        raise FleetBadResponse(f"Fleet's host list did not end after {MAX_PAGES} pages.")

    def get_host(self, host_id: int) -> FleetHost:
        """One host with the Get-host extras (``end_users``, local users, ``last_mdm_checked_in_at``)."""
        path = f"/api/v1/fleet/hosts/{int(host_id)}"
        body = self._request("GET", path, raw=True, light=True)  # a sync asks for up to 2,000 a run
        wire = decode_host(body)  # typed and fast; None: not the documented shape, parsed tolerantly
        if wire is not None:
            return host_from_wire(wire)
        data = _json(body, "GET", path)
        if not isinstance(data, dict) or "host" not in data:
            raise FleetBadResponse(f"Fleet's answer for host {host_id} has no “host” object.")
        return FleetHost.from_json(data["host"])

    def get_apns(self) -> ApnsCertificate | None:
        """The Apple push certificate, or None when Fleet has none (Apple MDM not set up).

        Fleet answers 404 when no APNs certificate is configured (newer versions 400).
        """
        try:
            data = self._request("GET", "/api/v1/fleet/apns")
        except FleetNotFound:
            return None
        except FleetError as exc:
            if exc.status == 400:
                return None
            raise
        return ApnsCertificate.from_json(data)

    def get_device_mapping(self, host_id: int) -> tuple[DeviceMapping, ...]:
        data = self._request("GET", f"/api/v1/fleet/hosts/{int(host_id)}/device_mapping")
        if not isinstance(data, dict):
            raise FleetBadResponse(f"Fleet's device mapping for host {host_id} is not an object.")
        return parse_mappings(data.get("device_mapping"))

    def delete_host(self, host_id: int) -> None:
        """Remove the host from Fleet (it re-enrolls under a new id if it still holds an enroll secret)."""
        self._request("DELETE", f"/api/v1/fleet/hosts/{int(host_id)}", expect_json=False)

    def turn_off_mdm(self, host_id: int) -> None:
        """Unenroll from MDM (macOS, iOS, iPadOS, Android)."""
        self._request("DELETE", f"/api/v1/fleet/hosts/{int(host_id)}/mdm", expect_json=False)

    def wipe(self, host_id: int, *, windows_wipe_type: str | None = None) -> MdmActionResult:
        """Queue an erase; Fleet reports ``device_status`` ``wiped`` once the host has done it."""
        body = {"windows": {"wipe_type": windows_wipe_type}} if windows_wipe_type else None
        return self._action(f"/api/v1/fleet/hosts/{int(host_id)}/wipe", body)

    def lock(self, host_id: int) -> MdmActionResult:
        return self._action(f"/api/v1/fleet/hosts/{int(host_id)}/lock", None)

    def _action(self, path: str, body) -> MdmActionResult:
        return MdmActionResult.from_json(self._request("POST", path, body=body))

    # -- labels (the cockpit's groups kept as manual labels: mdm_sync.labels) --

    def list_labels(self) -> list[FleetLabel]:
        """Every label, builtin and dynamic ones included (Fleet does not page this list unless asked)."""
        data = self._request("GET", "/api/v1/fleet/labels")
        items = data.get("labels") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise FleetBadResponse("Fleet's label list has no “labels” array.")
        return [FleetLabel.from_json(item) for item in items]

    def get_label(self, label_id: int) -> FleetLabel:
        return self._label("GET", f"/api/v1/fleet/labels/{int(label_id)}", None)

    def create_manual_label(self, *, name: str, host_ids, description: str = "") -> FleetLabel:
        """A manual label holding exactly these hosts (Fleet ids). POST is not retried: a lost answer may hide a
        created label, which the caller finds again by name (409 on the second try)."""
        body = {"name": name, "description": description, "host_ids": sorted(int(i) for i in host_ids)}
        return self._label("POST", "/api/v1/fleet/labels", body)

    def update_label(self, label_id: int, *, name: str | None = None, description: str | None = None,
                     host_ids=None) -> FleetLabel:
        """Rename a label and/or replace a manual label's hosts (``host_ids=[]`` empties it; None leaves them)."""
        body = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if host_ids is not None:
            body["host_ids"] = sorted(int(i) for i in host_ids)
        if not body:
            raise ValueError("nothing to change")
        return self._label("PATCH", f"/api/v1/fleet/labels/{int(label_id)}", body)

    def delete_label(self, label_id: int) -> None:
        """Delete by id (the by-name route cannot take every name, e.g. one with a slash)."""
        self._request("DELETE", f"/api/v1/fleet/labels/id/{int(label_id)}", expect_json=False)

    def _label(self, method: str, path: str, body) -> FleetLabel:
        data = self._request(method, path, body=body)
        if not isinstance(data, dict) or not isinstance(data.get("label"), dict):
            raise FleetBadResponse(f"Fleet's answer to {method} {path} has no “label” object.")
        return FleetLabel.from_json(data["label"])


class _Answer:
    """What :meth:`FleetClient._check` reads of an answer (``requests.Response``'s names) from urllib3's."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers, content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return json.loads(self.content)


class _LightGet:
    """GET through the session's own urllib3 connection pool, without requests' per-call preparation (merging
    settings, hooks, cookies, URL parsing and a ``Response`` built: ~0.6 ms of CPU of a Get host's ~1 ms), the body
    read in one call (requests reads it 10 KB at a time: a 1.2 MB page of hosts cost ~4.2 ms of CPU, now ~0.7).
    The query string is the one requests builds for the same parameters (``urlencode``: strings and numbers).

    The same connections (kept alive), headers, TLS settings, retries and timeouts as the session; urllib3's errors
    are raised as the ``requests`` exceptions ``HTTPAdapter.send`` and ``Response.content`` raise for them, so
    :meth:`FleetClient._request` words every failure as before. Not used when a proxy applies (``usable``)."""

    def __init__(self, session: requests.Session, adapter: HTTPAdapter, base_url: str, timeout: tuple[float, float]):
        self._session, self._adapter = session, adapter
        self._prefix = urlsplit(base_url).path
        self.usable = requests.utils.select_proxy(base_url, session.proxies) is None
        template = requests.Request("GET", base_url).prepare()
        self._pool_key = adapter.build_connection_pool_key_attributes(template, session.verify, None)
        self._timeout = Timeout(connect=timeout[0], read=timeout[1])

    def get(self, path: str) -> _Answer:
        host_params, pool_kwargs = self._pool_key
        pool = self._adapter.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)
        try:
            response = pool.urlopen("GET", f"{self._prefix}{path}", headers=dict(self._session.headers),
                                    redirect=False, assert_same_host=False, preload_content=False,
                                    decode_content=False, retries=self._adapter.max_retries, timeout=self._timeout)
        except (urllib3_exceptions.ProtocolError, OSError) as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3_exceptions.MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, urllib3_exceptions.ConnectTimeoutError) and not isinstance(
                    reason, urllib3_exceptions.NewConnectionError):
                raise requests.exceptions.ConnectTimeout(exc) from exc
            if isinstance(reason, urllib3_exceptions.ResponseError):
                raise requests.exceptions.RetryError(exc) from exc
            if isinstance(reason, urllib3_exceptions.SSLError):
                raise requests.exceptions.SSLError(exc) from exc
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3_exceptions.ClosedPoolError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3_exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except urllib3_exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(exc) from exc
        try:
            content = response.read(decode_content=True)
        except urllib3_exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3_exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except urllib3_exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3_exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        finally:
            response.release_conn()
        return _Answer(response.status, response.headers, content)


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "NameResolution" in text or "Name or service not known" in text or "nodename nor servname" in text:
        return "its host name does not resolve (DNS)."
    if "Connection refused" in text:
        return "the connection was refused (nothing listens on that port?)."
    return _short(exc)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "…"


def _json(content: bytes, method: str, path: str, status: int = 200):
    """``content`` as JSON (None when empty), or a clear :class:`FleetBadResponse`."""
    if not content:
        return None
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise FleetBadResponse(
            f"Fleet answered {method} {path} with invalid JSON ({exc.msg} at byte {exc.pos}).", status=status
        ) from exc
    except UnicodeDecodeError as exc:
        raise FleetBadResponse(
            f"Fleet answered {method} {path} with invalid JSON (not UTF-8 at byte {exc.start}).", status=status
        ) from exc

