"""OpenID Connect login (the relying party), with Authlib.

The authorization code flow with PKCE (S256), a state and a nonce: ``start`` gives the
provider's address to send the browser to; ``finish`` exchanges the code at the provider's
token endpoint and validates the ID token with Authlib (signature against the provider's JWKS,
issuer, audience, nonce, expiry, ``at_hash``). The provider's discovery document and keys are
read once per process (the keys again when a token names a key not seen yet).

Which local account a provider's identity is: the account whose ``oidc_subject`` is the ID
token's ``sub`` (``schoolmode users add NAME --role ... --oidc-subject SUB``). The subject is the
identifier OpenID Connect guarantees stable and unique per issuer (Core 1.0 section 5.7); an
e-mail address is not (it can be reassigned, changed by the user, or unverified at some
providers), so no account is ever found, let alone created, from an e-mail claim.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import BaseApp, OAuth2Mixin, OAuthError, OpenIDMixin
from authlib.integrations.httpx_client import OAuth2Client
from joserfc.errors import JoseError

from schoolmode.policy.errors import SchoolmodeError

ID_TOKEN_LEEWAY_S = 60
"""Clock skew allowed between this server and the provider, in seconds."""
HTTP_TIMEOUT_S = 10.0


class OidcError(SchoolmodeError):
    """An OpenID Connect login that cannot go on (the message says why; never a secret)."""


class OidcNotConfigured(OidcError):
    """No issuer is configured: OpenID Connect login is off."""


class UnknownSubject(OidcError):
    """The provider vouched for a person no local account is mapped to."""


@dataclass(frozen=True)
class Provider:
    """The provider and this service's registration there."""

    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str


class _RelyingParty(OAuth2Mixin, OpenIDMixin, BaseApp):  # type: ignore[misc]
    """Authlib's OAuth 2.0 and OpenID Connect client logic over its httpx client."""

    client_cls = OAuth2Client


@functools.lru_cache(maxsize=4)
def _party(provider: Provider) -> _RelyingParty:
    return _RelyingParty(
        framework=None,
        name="oidc",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=provider.issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": provider.scopes,
            "code_challenge_method": "S256",
            "timeout": HTTP_TIMEOUT_S,
        },
    )


def _metadata(party: _RelyingParty, provider: Provider) -> dict[str, Any]:
    try:
        metadata: dict[str, Any] = party.load_server_metadata()
    except (httpx2.HTTPError, ValueError) as exc:
        raise OidcError(f"the OpenID provider's discovery document: {exc}") from None
    if metadata.get("issuer") != provider.issuer:
        party.server_metadata.clear()  # read again next time
        raise OidcError(
            f"the discovery document names issuer {metadata.get('issuer')!r}, "
            f"not {provider.issuer!r}"
        )
    return metadata


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what to keep until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def start(provider: Provider, redirect_uri: str) -> Authorization:
    """The provider's authorization address with a new state, nonce and PKCE challenge."""
    party = _party(provider)
    _metadata(party, provider)
    made = party.create_authorization_url(redirect_uri=redirect_uri)
    return Authorization(made["url"], made["state"], made["nonce"], made["code_verifier"])


def _parse_id_token(
    party: _RelyingParty, token: dict[str, Any], nonce: str, options: dict[str, Any]
) -> Any:
    """The ID token's claims, checked. A signature that the provider's cached keys do not
    verify is checked once more against its keys read again: a provider may replace a key and
    keep its key id (Authlib reads the keys again only for an unknown key id)."""
    try:
        return party.parse_id_token(
            token, nonce=nonce, claims_options=options, leeway=ID_TOKEN_LEEWAY_S
        )
    except JoseError as exc:
        if exc.error != "bad_signature":
            raise
    party.fetch_jwk_set(force=True)
    return party.parse_id_token(
        token, nonce=nonce, claims_options=options, leeway=ID_TOKEN_LEEWAY_S
    )


def finish(provider: Provider, code: str, nonce: str, code_verifier: str, redirect_uri: str) -> str:
    """Exchange ``code`` (with the PKCE verifier) and validate the ID token: its subject."""
    party = _party(provider)
    _metadata(party, provider)
    try:
        token = party.fetch_access_token(
            redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
        )
    except OAuthError as exc:
        raise OidcError(f"the provider refused the code: {exc.error}") from None
    except httpx2.HTTPError as exc:
        raise OidcError(f"the provider's token endpoint: {exc}") from None
    if "id_token" not in token:
        raise OidcError("the provider sent no ID token (is `openid` among the scopes?)")
    options = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": provider.client_id},
    }
    try:
        claims = _parse_id_token(party, token, nonce, options)
    except JoseError as exc:
        raise OidcError(f"the ID token is not valid: {exc.error}: {exc.description}") from None
    except httpx2.HTTPError as exc:
        raise OidcError(f"the provider's keys: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError("the ID token names no subject")
    return subject
