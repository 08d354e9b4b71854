"""Signing in to the dashboard: an API token in the form, or OpenID Connect; both end in a server-side session.

`GET /login` shows the token form and, when an identity provider is configured
(`SPOORWERK_OIDC_ISSUER`), a button "Inloggen via …". `GET /login/oidc` starts the authorization
code flow with PKCE (authlib's Starlette client, the provider found by discovery) and
`GET /login/oidc/callback` ends it: the ID token's claims give the role, the opaque id and the
employers (`SPOORWERK_OIDC_ROLE_MAP` and the claim settings); a user whose claims give no API role
is refused, and gets no session. `POST /logout` deletes the session, so its cookie works nowhere
any more. Failed token sign-ins, here and as bearer tokens on the API, are throttled per client
address (`LoginThrottle`).

Cookies. The session cookie (`operations.auth.COOKIE`) is HttpOnly, SameSite=Strict, and Secure
whenever the request came over HTTPS — directly, or through a proxy in `SPOORWERK_TRUSTED_PROXIES`
(uvicorn's proxy headers, see `worker.api_server_config`). The provider sends the browser back to
the callback by a cross-site navigation, which carries no Strict cookie; so the sign-in in progress
has a cookie of its own, SameSite=Lax and limited to /login/oidc, and the callback answers with a
page that moves on to the dashboard itself: a navigation that starts on our own page is same-site,
and the new Strict cookie goes with it. A redirect straight from the callback would still count as
started by the provider's site and arrive without the cookie.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes.

import asyncio
import math
import threading
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Engine

from domain import glossary
from domain.models import Role
from operations import pages
from operations.auth import API_ROLES, COOKIE, Caller
from operations.sessions import FLOW_SECONDS, LoginThrottle, SessionStore
from service import i18n
from service.i18n import _
from service.settings import Settings

with warnings.catch_warnings():
    # authlib 1.9 prefers the `httpx2` package and warns once when it falls back to `httpx`, which the
    # project pins and which the fallback supports: not an operator's concern at every start.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

log = structlog.get_logger("spoorwerk.signin")

FLOW_COOKIE = "spoorwerk_signin"
FLOW_PATH = "/login/oidc"
NO_STORE = {"Cache-Control": "no-store"}


class OidcUnavailable(Exception):
    """The provider cannot be used just now (unreachable, or its discovery document names another issuer)."""


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or a nested one by a dotted path (realm_access.roles)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class Oidc:
    """The configured identity provider: authlib's client, and how claims become a caller."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer
        self.name = settings.oidc_provider_name or urlsplit(self.issuer).hostname or self.issuer
        scopes = settings.oidc_scopes.split()
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        self.client = OAuth().register(
            name="spoorwerk",
            client_id=settings.oidc_client_id,
            client_secret=secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": " ".join(["openid", *[s for s in scopes if s != "openid"]]),  # openid: an ID token and a nonce
                "code_challenge_method": "S256",  # PKCE, with or without a client secret
                "timeout": 10,
                **({} if secret else {"token_endpoint_auth_method": "none"}),  # a public client
            },
        )
        self.role_claim, self.role_map = settings.oidc_role_claim, dict(settings.oidc_role_map)
        self.id_claim, self.id_prefix = settings.oidc_id_claim, settings.oidc_id_prefix
        self.employer_claim = settings.oidc_employer_claim

    async def check_issuer(self) -> None:
        """Discovery (once, then cached) and OIDC Discovery's rule: the document names the issuer configured."""
        try:
            metadata = await self.client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as err:
            raise OidcUnavailable(f"discovery failed: {type(err).__name__}") from None
        if metadata.get("issuer") != self.issuer:
            raise OidcUnavailable("the discovery document names another issuer than SPOORWERK_OIDC_ISSUER")

    def caller(self, claims: dict[str, Any], api_roles: frozenset[Role]) -> Caller | str:
        """The caller these claims make, or why they make none (in the reader's language, for the page; never a claim's value)."""
        roles = {self.role_map[v] for v in _strings(_claim(claims, self.role_claim)) if v in self.role_map}
        roles &= api_roles
        if not roles:
            return _("Your account has no role that may use Spoorwerk. Ask your administrator for access.")
        if len(roles) > 1:
            # One role per session: every action is recorded under the role it was taken in.
            return _(
                "Your account has more than one Spoorwerk role, and Spoorwerk records every action under one "
                "role. Ask your administrator to give you one role."
            )
        [role] = roles
        raw_id = _claim(claims, self.id_claim)
        employers = _strings(_claim(claims, self.employer_claim))
        fields: dict[str, Any] = {"role": role, "id": f"{self.id_prefix}{raw_id}" if isinstance(raw_id, str) else None}
        if role is Role.WERKGEVER:
            if len(employers) != 1:
                return _(
                    "A werkgever needs exactly one employer id (claim %(claim)s). Ask your administrator to set it up.",
                    claim=self.employer_claim,
                )
            fields["employer_id"] = employers[0]
        elif employers:
            fields["employer_ids"] = employers
        try:
            return Caller.model_validate(fields)
        except ValidationError as err:
            field = str(err.errors(include_url=False)[0]["loc"][0]) if err.errors() else "id"
            claim = self.id_claim if field == "id" else self.employer_claim
            return _(
                "Your account has no id Spoorwerk can use (claim %(claim)s: an id starts with a letter and holds "
                "no name or e-mail address). Ask your administrator to set it up.",
                claim=claim,
            )


class SignIn:
    """Everything sign-in keeps: the sessions, the throttle, and the identity provider if one is configured."""

    def __init__(self, sessions: SessionStore, throttle: LoginThrottle, oidc: Oidc | None = None) -> None:
        self.sessions, self.throttle, self.oidc = sessions, throttle, oidc

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, *, clock: Callable[[], float] | None = None) -> "SignIn":
        """Sessions in `engine`'s database; `clock` (seconds) replaces the wall and monotonic clocks in tests."""
        timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
        return cls(
            SessionStore(
                engine, lifetime_seconds=settings.session_seconds, idle_seconds=settings.session_idle_seconds, **timing
            ),
            LoginThrottle(settings.login_max_failures, settings.login_failure_window_seconds, **timing),
            Oidc(settings) if settings.oidc_issuer else None,
        )

    @classmethod
    def in_memory(cls) -> "SignIn":
        """The default of an app built without one (tests): the settings' defaults, sessions of this process only."""
        defaults = {
            name: Settings.model_fields[name].default
            for name in (
                "session_seconds",
                "session_idle_seconds",
                "login_max_failures",
                "login_failure_window_seconds",
            )
        }
        return cls(
            SessionStore.in_memory(
                lifetime_seconds=defaults["session_seconds"], idle_seconds=defaults["session_idle_seconds"]
            ),
            LoginThrottle(defaults["login_max_failures"], defaults["login_failure_window_seconds"]),
        )


_default_lock = threading.Lock()


def signin_of(app: Any) -> SignIn:
    """The app's sign-in (create_app's `signin`), or one of its own for an app built without."""
    found = getattr(app.state, "signin", None)
    if found is None:
        with _default_lock:
            found = getattr(app.state, "signin", None)
            if found is None:
                found = app.state.signin = SignIn.in_memory()
    return found


def _decimal(value: float) -> str:
    """A number of hours as people write it in the current language (Dutch: a decimal comma)."""
    text = f"{value:.3g}"
    return text.replace(".", ",") if i18n.language() == "nl" else text


def client_address(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy says it is (uvicorn's proxy headers)."""
    return request.client.host if request.client else "unknown"


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_caller(request: Request, *, touch: bool = True) -> Caller | None:
    """The caller of the request's session cookie, or None. Blocking (a database read): call it off the event loop."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    signin = signin_of(request.app)
    session = signin.sessions.resolve(cookie, touch=touch)
    if session is None:
        return None
    knows = getattr(getattr(request.app.state, "authenticator", None), "knows", None)
    if session.via == "token" and knows is not None and not knows(session.caller):
        signin.sessions.revoke(cookie)  # the token it was made with is no longer configured (as it was)
        return None
    return session.caller


async def page_caller(request: Request) -> Caller | None:
    """The caller of a dashboard page from its session, the API's roles only. The page's own background refresh
    (a fetch, not a navigation) is no activity of the person: it does not keep an unattended session alive."""
    touch = request.headers.get("sec-fetch-mode", "navigate") == "navigate"
    found = await asyncio.to_thread(session_caller, request, touch=touch)
    return found if found is not None and found.role in API_ROLES else None


def set_session_cookie(response: Response, request: Request, session_id: str, max_age: float) -> None:
    response.set_cookie(
        COOKIE, session_id, max_age=int(max_age), path="/", httponly=True, samesite="strict", secure=_https(request)
    )


def add_signin_routes(app: FastAPI) -> None:
    """Add GET/POST /login, POST /logout, GET /login/oidc and GET /login/oidc/callback to the dashboard."""
    signin_of(app)  # made now, not by the first requests at once

    def login_page(
        request: Request, status: int, next: str, error: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        signin = signin_of(request.app)
        page = pages.render(
            request,
            "login.html",
            status,
            caller=None,
            next=next,
            error=error,
            oidc_name=signin.oidc.name if signin.oidc else None,
            oidc_href="/login/oidc?" + urlencode({"next": next}),
            session_hours=_decimal(signin.sessions.lifetime / 3600),
            idle_minutes=round(signin.sessions.idle / 60),
        )
        page.headers.update(headers or {})
        return page

    def problem_page(request: Request, status: int, title: str, reason: str) -> Response:
        page = pages.render(request, "signin_problem.html", status, caller=None, title=title, reason=reason)
        page.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=_https(request))
        return page

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        return login_page(request, 200, pages.safe_next(next))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not pages.same_origin(request):
            return login_page(request, 403, "/", _("This form must be sent from this site."))
        signin = signin_of(request.app)
        form = await pages.read_form(request)
        token, target = form.get("token", "").strip(), pages.safe_next(form.get("next"))
        address = client_address(request)
        wait = signin.throttle.retry_after(address)
        if wait is not None:  # refused before the token is looked at: the answer tells nothing about it
            return login_page(
                request,
                429,
                target,
                _(
                    "Too many failed sign-ins from this address. Try again in %(minutes)s minutes.",
                    minutes=math.ceil(wait / 60),
                ),
                {"Retry-After": str(wait)},
            )
        found = request.app.state.authenticator.authenticate(token) if token else None
        if found is None:
            signin.throttle.failed(address)
            log.warning("sign-in refused", via="token", reason="unknown token")
            return login_page(request, 401, target, _("Unknown token."))
        if found.role not in API_ROLES:
            return login_page(
                request,
                401,
                target,
                _("The role %(role)s does not use the dashboard.", role=_(glossary.role_label(found.role.value))),
            )
        session_id = await asyncio.to_thread(signin.sessions.replace, request.cookies.get(COOKIE), found, "token")
        log.info("signed in", via="token", role=found.role.value)
        response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        set_session_cookie(response, request, session_id, signin.sessions.lifetime)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303, headers=NO_STORE)
        if pages.same_origin(request):  # another site cannot log a browser out either
            await asyncio.to_thread(signin_of(request.app).sessions.revoke, request.cookies.get(COOKIE))
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
        return response

    @app.get("/login/oidc", include_in_schema=False)
    async def oidc_start(request: Request, next: str = "/") -> Response:
        signin = signin_of(request.app)
        if signin.oidc is None:
            return problem_page(
                request,
                404,
                _("Not set up"),
                _("Signing in through an identity provider is not set up here: sign in with an API token."),
            )
        state: dict[str, Any] = {}
        request.scope["session"] = state  # what authlib keeps for the callback (state, nonce, PKCE verifier)
        try:
            await signin.oidc.check_issuer()
            redirect = await signin.oidc.client.authorize_redirect(request, str(request.url_for("oidc_callback")))
        except (OidcUnavailable, httpx.HTTPError, OAuthError) as err:
            log.warning(
                "identity provider unavailable",
                error=str(err) if isinstance(err, OidcUnavailable) else type(err).__name__,
            )
            return problem_page(
                request,
                503,
                _("Identity provider not reachable"),
                _("%(provider)s cannot be reached now. Try again later.", provider=signin.oidc.name),
            )
        flow_id = await asyncio.to_thread(signin.sessions.save_flow, {"authlib": state, "next": pages.safe_next(next)})
        redirect.headers["Cache-Control"] = "no-store"
        redirect.set_cookie(
            FLOW_COOKIE,
            flow_id,
            max_age=FLOW_SECONDS,
            path=FLOW_PATH,
            httponly=True,
            samesite="lax",
            secure=_https(request),
        )
        return redirect

    @app.get("/login/oidc/callback", name="oidc_callback", include_in_schema=False)
    async def oidc_callback(request: Request) -> Response:
        signin = signin_of(request.app)
        if signin.oidc is None:
            return problem_page(
                request,
                404,
                _("Not set up"),
                _("Signing in through an identity provider is not set up here: sign in with an API token."),
            )
        flow = await asyncio.to_thread(signin.sessions.take_flow, request.cookies.get(FLOW_COOKIE))
        if flow is None:  # none started in this browser, expired, or this callback was already used
            return problem_page(
                request, 400, _("Sign-in expired"), _("This sign-in has expired or was used already. Start again.")
            )
        request.scope["session"] = flow["authlib"]
        try:
            token = await signin.oidc.client.authorize_access_token(request)
        except OAuthError as err:
            log.warning("sign-in refused", via="oidc", reason=err.error or "oauth error")
            cancelled = err.error == "access_denied"
            return problem_page(
                request,
                403 if cancelled else 400,
                _("Not signed in"),
                _("Signing in was cancelled at the identity provider.")
                if cancelled
                else _("The identity provider's answer is not right. Start again."),
            )
        except httpx.HTTPError as err:
            log.warning("identity provider unavailable", error=type(err).__name__)
            return problem_page(
                request,
                503,
                _("Identity provider not reachable"),
                _("%(provider)s cannot be reached now. Try again later.", provider=signin.oidc.name),
            )
        claims = token.get("userinfo")
        found = signin.oidc.caller(dict(claims), API_ROLES) if claims else _("The identity provider gave no ID token.")
        if isinstance(found, str):
            log.warning("sign-in refused", via="oidc", reason="claims give no caller")
            return problem_page(request, 403, _("No access"), found)
        session_id = await asyncio.to_thread(signin.sessions.replace, request.cookies.get(COOKIE), found, "oidc")
        log.info("signed in", via="oidc", role=found.role.value)
        page = pages.render(request, "signed_in.html", 200, caller=None, next=flow["next"])
        set_session_cookie(page, request, session_id, signin.sessions.lifetime)
        page.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=_https(request))
        return page
