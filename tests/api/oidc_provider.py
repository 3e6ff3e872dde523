"""A real OpenID Connect provider on 127.0.0.1 for the tests: Authlib's own authorization
server (authorization code grant with PKCE, the OpenID Connect code extension) in a Flask
application, served by werkzeug in a thread, with a generated RSA key and its JWKS.

Every login is granted to ``subject`` (the person at the provider); ``audience``,
``id_token_life`` and ``issuer_claim`` let a test make the provider misbehave in one respect
(an ID token for another client, already expired, from another issuer), signed with its real
key all the same.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "schoolmode"
CLIENT_SECRET = "test-client-secret-not-used-anywhere-else"
KID = "test-key-1"


@dataclass
class User:
    sub: str

    def get_user_id(self) -> str:
        return self.sub


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class Provider:
    """The provider, listening on 127.0.0.1 (``issuer``) until ``close``."""

    def __init__(self, redirect_uri: str) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"}, private=True)
        self.subject = "person-1"
        self.audience: str | None = None
        self.id_token_life = 600
        self.issuer_claim: str | None = None
        self.published: RSAKey | None = None
        """The key the provider's JWKS publishes, when not the one it signs with."""
        self.codes: dict[str, Code] = {}
        self.clients = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])}
        self.app = self._app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def _app(self) -> Flask:
        app = Flask("test-openid-provider")
        server = AuthorizationServer(
            app, query_client=self.clients.get, save_token=lambda token, req: None
        )
        server.register_grant(
            self._code_grant(), [CodeChallenge(required=True), self._openid(require_nonce=True)]
        )
        provider = self

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=provider.issuer + "/authorize",
                token_endpoint=provider.issuer + "/token",
                jwks_uri=provider.issuer + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            published = provider.published or provider.key
            return jsonify(KeySet([published]).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:  # the person is logged in here and consents at once
            user = User(provider.subject)
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        del discovery, jwks, authorize, token
        return app

    def _code_grant(self) -> type[AuthorizationCodeGrant]:
        provider = self

        class Grant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]  # noqa: RUF012

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=req.client.get_client_id(),
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    sub=req.user.sub,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> User:
                return User(authorization_code.sub)

        return Grant

    def _openid(self, require_nonce: bool) -> OpenIDCode:
        provider = self

        class OpenID(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": KID}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {
                    "iss": provider.issuer_claim or provider.issuer,
                    "aud": [provider.audience or client.client_id],
                    "exp": int(time.time()) + provider.id_token_life,
                }

            def generate_user_info(self, user: User, scope: str) -> UserInfo:
                return UserInfo(sub=user.sub)

        return OpenID(require_nonce=require_nonce)
