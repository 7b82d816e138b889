"""The OpenID Connect relying party: Authlib's Django client, one per organization, built from its ``SsoConfig``.

Authlib does the protocol: discovery (``server_metadata_url``), the authorization request with PKCE (S256), state and
nonce kept in the session, the code exchange, and the ID token's validation (signature against the provider's JWKS,
``iss``, ``aud``, ``exp``, ``iat``, ``nonce``, ``azp``, ``at_hash``). This module builds the client, says which
checks the ID token gets (the configured issuer, our client id in ``aud``, ``exp`` and a recent ``iat`` with a small
leeway), and turns every failure into an :class:`SsoRefused` with a reason code (``sso.refusals``), never a trace.
"""

import hashlib
import logging
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.core.cache import cache
from django.utils.translation import gettext as _
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwt import JWTClaimsRegistry

from core.crypto import SecretUnreadable

logger = logging.getLogger(__name__)

SCOPES = "openid email profile"
HTTP_TIMEOUT_SECONDS = 10
# A provider's checked discovery document is kept this long for sign-ins (the settings page's check always fetches).
DISCOVERY_CACHE_SECONDS = 3600
LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
MAX_ID_TOKEN_AGE_SECONDS = 10 * 60  # an ID token issued longer ago than this is refused (its iat)
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class SsoRefused(Exception):
    """A sign-in the cockpit refuses: ``reason`` is a code of ``sso.refusals.REFUSALS``; ``detail`` is what the
    provider or the check said (shown to the person and kept in the audit entry). ``unsolicited``: an answer to no
    sign-in started in this browser (anyone can send one to the callback), which is logged but never audited."""

    def __init__(self, reason: str, detail: str = "", *, unsolicited: bool = False):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = str(detail)[:300]
        self.unsolicited = unsolicited


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    scopes_supported: tuple[str, ...]
    code_challenge_methods_supported: tuple[str, ...]

    @classmethod
    def from_metadata(cls, metadata: dict) -> "Discovery":
        return cls(
            **{key: str(metadata[key]) for key in REQUIRED_METADATA},
            userinfo_endpoint=str(metadata.get("userinfo_endpoint") or ""),
            scopes_supported=tuple(metadata.get("scopes_supported") or ()),
            code_challenge_methods_supported=tuple(metadata.get("code_challenge_methods_supported") or ()),
        )


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _client(*, name: str, issuer: str, client_id: str = "", client_secret: str = "") -> DjangoOAuth2App:
    """A fresh client (never a global registry entry): its state lives in the session under ``name``."""
    return DjangoOAuth2App(
        DjangoIntegration(name), name=name, client_id=client_id, client_secret=client_secret,
        server_metadata_url=discovery_url(issuer),
        client_kwargs={"scope": SCOPES, "code_challenge_method": "S256", "default_timeout": HTTP_TIMEOUT_SECONDS},
    )


def _load_metadata(client: DjangoOAuth2App, issuer: str, *, fresh: bool = False) -> dict:
    """The provider's discovery document, checked: reachable, an OpenID provider, and the issuer it was asked for
    (OpenID Connect Discovery §4.3: the document's ``issuer`` is exactly the configured one). A checked document is
    cached for :data:`DISCOVERY_CACHE_SECONDS` unless ``fresh``: a sign-in costs no discovery round trip."""
    cache_key = "sso:discovery:" + hashlib.sha256(issuer.encode()).hexdigest()
    cached = None if fresh else cache.get(cache_key)
    if isinstance(cached, dict):
        client.server_metadata.update(cached)  # it carries "_loaded_at": Authlib does not fetch it again
    try:
        metadata = client.load_server_metadata()
    except requests.RequestException as exc:
        raise SsoRefused("idp_unreachable", exc.__class__.__name__) from exc
    except ValueError as exc:  # not JSON
        raise SsoRefused("not_openid_provider", _("the discovery document is not JSON")) from exc
    if not isinstance(metadata, dict) or any(not metadata.get(key) for key in REQUIRED_METADATA):
        missing = [key for key in REQUIRED_METADATA if not isinstance(metadata, dict) or not metadata.get(key)]
        raise SsoRefused("not_openid_provider", _("missing: %(keys)s") % {"keys": ", ".join(missing)})
    if metadata["issuer"] != issuer:
        raise SsoRefused("issuer_mismatch", str(metadata["issuer"]))
    methods = metadata.get("token_endpoint_auth_methods_supported") or []
    if "client_secret_basic" not in methods and "client_secret_post" in methods:
        client.client_kwargs["token_endpoint_auth_method"] = "client_secret_post"
    if cached is None:
        cache.set(cache_key, dict(metadata), DISCOVERY_CACHE_SECONDS)
    return metadata


def discover(issuer: str) -> Discovery:
    """Fetch and check ``issuer``'s discovery document; :class:`SsoRefused` says what is wrong."""
    return Discovery.from_metadata(_load_metadata(_client(name="sso-discovery", issuer=issuer), issuer, fresh=True))


def client_for(config) -> DjangoOAuth2App:
    try:
        secret = config.client_secret
    except SecretUnreadable as exc:
        raise SsoRefused("not_configured", _("the client secret cannot be decrypted: enter it again")) from exc
    return _client(name=f"sso-{config.organization_id}", issuer=config.issuer, client_id=config.client_id,
                   client_secret=secret)


def authorization_redirect(request, config, *, redirect_uri: str):
    """The redirect to the provider's authorization endpoint; state, nonce and the PKCE verifier go to the session."""
    client = client_for(config)
    _load_metadata(client, config.issuer)
    return client.authorize_redirect(request, redirect_uri)


def _recent(claims, iat) -> bool:
    now = JWTClaimsRegistry().now
    return isinstance(iat, int | float) and now - MAX_ID_TOKEN_AGE_SECONDS - LEEWAY_SECONDS <= iat


def _claims_options(config) -> dict:
    return {
        "iss": {"essential": True, "value": config.issuer},
        "aud": {"essential": True, "value": config.client_id},
        "exp": {"essential": True},
        "iat": {"essential": True, "validate": _recent},
        "sub": {"essential": True},
    }


CLAIM_REASONS = {"aud": "wrong_audience", "azp": "wrong_audience", "iss": "wrong_issuer", "nonce": "nonce_mismatch",
                 "iat": "token_expired", "exp": "token_expired"}


def _id_token_refusal(exc: JoseError) -> SsoRefused:
    if isinstance(exc, ExpiredTokenError):
        return SsoRefused("token_expired", exc.description or str(exc))
    if isinstance(exc, MissingClaimError):
        return SsoRefused("nonce_mismatch" if exc.claim == "nonce" else "invalid_token", exc.description)
    if isinstance(exc, InvalidClaimError):
        return SsoRefused(CLAIM_REASONS.get(exc.claim, "invalid_token"), exc.description)
    return SsoRefused("invalid_token", exc.description or exc.__class__.__name__)


def _state(request) -> str:
    return request.GET.get("state") or ""


def finish(request, config) -> dict:
    """The provider's answer at the redirect URI, checked end to end; returns the ID token's claims (completed with
    the userinfo endpoint's ``email``/``email_verified`` when the ID token leaves them there, as Okta's may)."""
    client = client_for(config)
    state = _state(request)
    state_data = client.framework.get_state_data(request.session, state) if state else None
    if request.GET.get("error"):
        if state_data is not None:
            client.framework.clear_state_data(request.session, state)
        raise SsoRefused("idp_error", ": ".join(
            part[:150] for part in (request.GET["error"], request.GET.get("error_description", "")) if part),
            unsolicited=state_data is None)
    if state_data is None:
        raise SsoRefused("bad_state", _("no state") if not state else _("unknown or already used"), unsolicited=True)
    if request.GET.get("iss") and request.GET["iss"] != config.issuer:  # RFC 9207: the answer of another provider
        client.framework.clear_state_data(request.session, state)
        raise SsoRefused("wrong_issuer", request.GET["iss"][:150])
    if not request.GET.get("code"):
        client.framework.clear_state_data(request.session, state)
        raise SsoRefused("bad_request", _("no code"))
    metadata = _load_metadata(client, config.issuer)
    try:
        token = client.authorize_access_token(request, claims_options=_claims_options(config), leeway=LEEWAY_SECONDS)
    except MismatchingStateError as exc:
        raise SsoRefused("bad_state", _("unknown or already used")) from exc
    except OAuthError as exc:
        raise SsoRefused("token_refused", ": ".join(p for p in (exc.error, exc.description) if p)) from exc
    except requests.RequestException as exc:
        raise SsoRefused("idp_unreachable", exc.__class__.__name__) from exc
    except JoseError as exc:
        raise _id_token_refusal(exc) from exc
    except ValueError as exc:  # an answer that is not JSON, or an ID token that is not a JWT
        raise SsoRefused("invalid_token", exc.__class__.__name__) from exc
    claims = token.get("userinfo")
    if not claims:
        raise SsoRefused("invalid_token", _("no ID token"))
    claims = dict(claims)
    if "email" not in claims and metadata.get("userinfo_endpoint"):
        claims.update(_userinfo_email(client, token, subject=claims["sub"]))
    return claims


def _userinfo_email(client: DjangoOAuth2App, token: dict, *, subject: str) -> dict:
    try:
        info = client.userinfo(token=token)
    except requests.RequestException as exc:
        raise SsoRefused("idp_unreachable", exc.__class__.__name__) from exc
    except (OAuthError, ValueError) as exc:
        raise SsoRefused("invalid_token", "userinfo: " + exc.__class__.__name__) from exc
    if info.get("sub") != subject:  # OpenID Connect Core §5.3.2: the userinfo must be the ID token's subject
        raise SsoRefused("invalid_token", _("the userinfo answer is about another subject"))
    return {key: info[key] for key in ("email", "email_verified", "xms_edov") if key in info}
