"""All configuration in one typed object, read from the environment, with working defaults."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, EmailStr, Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.models import Role
from domain.uwv import is_loonheffingennummer
from service.codec import EncryptionKeyError, KeyRing

PROJECT_ROOT = Path(__file__).resolve().parent.parent

NotifyChannel = Literal["log", "email", "webhook"]


def _listed(v: Any) -> Any:
    """A list setting from the environment: a JSON list, or comma-separated ("log,email"); other values as given."""
    if isinstance(v, str):
        return json.loads(v) if v.lstrip().startswith("[") else [part.strip() for part in v.split(",") if part.strip()]
    return v


class Settings(BaseSettings):
    """Spoorwerk's settings. Temporal's own variables keep their usual names (TEMPORAL_*)."""

    # Errors must not echo the environment back: it holds the SMTP password and the webhook secret.
    model_config = SettingsConfigDict(env_prefix="SPOORWERK_", extra="ignore", hide_input_in_errors=True)

    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "SPOORWERK_TEMPORAL_ADDRESS"),
        description="host:port of an existing Temporal cluster; unset runs the embedded dev server",
    )
    temporal_namespace: str = Field(
        default="default", validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "SPOORWERK_TEMPORAL_NAMESPACE")
    )
    temporal_tls: bool = Field(default=False, validation_alias=AliasChoices("TEMPORAL_TLS", "SPOORWERK_TEMPORAL_TLS"))
    temporal_tls_client_cert: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_CERT_PATH", "SPOORWERK_TEMPORAL_TLS_CLIENT_CERT"),
    )
    temporal_tls_client_key: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_KEY_PATH", "SPOORWERK_TEMPORAL_TLS_CLIENT_KEY")
    )
    temporal_tls_server_ca_cert: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "SPOORWERK_TEMPORAL_TLS_CA_CERT"),
    )
    temporal_tls_server_name: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_NAME", "SPOORWERK_TEMPORAL_TLS_SERVER_NAME")
    )
    temporal_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_API_KEY", "SPOORWERK_TEMPORAL_API_KEY")
    )

    task_queue: str = "spoorwerk-cases"
    data_dir: Path = PROJECT_ROOT / "data"
    dev_server_ip: str = "127.0.0.1"
    dev_server_port: int = Field(default=7233, ge=1, le=65535)
    dev_server_ui_port: int = Field(default=8233, ge=1, le=65535)

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    language: Literal["nl", "en"] = Field(
        default="nl",
        description="The language of the CLI and of the notifications Spoorwerk sends (the dashboard "
        "follows each person's own choice)",
    )

    notification_log: Path | None = Field(
        default=None, description="JSON-lines file the embedded notification channel writes; default data_dir"
    )
    notify_channels: Annotated[list[NotifyChannel], NoDecode] = Field(
        default_factory=lambda: list[NotifyChannel](["log"]),
        description='Where notifications go, tried in this order: "log,email,webhook" or a JSON list',
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="Upgrade with STARTTLS; never falls back to plain text")
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle to check the SMTP server by; default the system's"
    )
    smtp_username: str | None = Field(default=None, description="Log in when set")
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(default=None, description='From header, e.g. "Spoorwerk <noreply@example.nl>"')
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    notify_default_recipients: dict[Role, list[EmailStr]] = Field(
        default_factory=dict,
        description='JSON, role -> addresses, for notifications that name no recipients: {"werkgever": ["hr@example.nl"]}',
    )
    webhook_url: HttpUrl | None = None
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared HMAC-SHA256 key for X-Spoorwerk-Signature"
    )
    webhook_timeout_seconds: float = Field(default=10, gt=0)

    api_enabled: bool = Field(default=True, description="Serve the HTTP API and dashboard beside the worker")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_tokens: SecretStr | None = Field(
        default=None,
        description='JSON, token -> caller: {"<token>": {"role": "operations", "id": "ops-1"}}; a werkgever also '
        'names its "employer_id". Unset on the embedded default: one operations token in data_dir',
    )
    # ---- Dashboard sign-in (issue 18): sessions, OpenID Connect, login throttling, token strength, proxies.
    min_token_length: int = Field(
        default=32,
        ge=16,
        description="The shortest token SPOORWERK_API_TOKENS may hold; make tokens with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` (43 characters)",
    )
    # 8 hours: one working day, so a case manager signs in once a day and not in the middle of a task.
    # 30 minutes idle: a dashboard of health data left open on an unattended screen stops working soon
    # after (NEN 7510's automatic session end), without ending the session of someone reading a long dossier.
    session_seconds: int = Field(default=8 * 3600, ge=60, description="A dashboard session's absolute lifetime")
    session_idle_seconds: int = Field(
        default=30 * 60, ge=60, description="A dashboard session ends after this long without a page or API request"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IP addresses or networks (comma-separated) of TLS-terminating proxies whose X-Forwarded-Proto "
        "and X-Forwarded-For are believed (Secure cookies, the client address that login throttling "
        "counts); unset: none, the connecting peer is the client",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins (token form, unknown bearer tokens) per client address within "
        "SPOORWERK_LOGIN_FAILURE_WINDOW_SECONDS before it is answered 429",
    )
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (discovery at <issuer>/.well-known/openid-configuration); "
        "unset: the dashboard signs in with API tokens only",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="The client's secret at the provider; unset: a public client (PKCE alone)"
    )
    oidc_scopes: str = Field(default="openid", description="Scopes asked for; only what the role and id claims need")
    oidc_provider_name: str | None = Field(
        default=None, description='Shown on the login button "Inloggen via …"; default the issuer\'s host'
    )
    oidc_role_claim: str = Field(
        default="groups",
        description="The claim holding the user's groups or roles (a dotted path for a nested one, "
        "e.g. realm_access.roles)",
    )
    oidc_role_map: dict[str, Role] = Field(
        default_factory=dict,
        description='JSON, value of the role claim -> Spoorwerk role: {"spoorwerk-bedrijfsarts": "bedrijfsarts"}; '
        "a user whose values map to no role, or to more than one, is refused",
    )
    oidc_id_claim: str = Field(
        default="sub",
        description="The claim whose value becomes the caller's opaque id, recorded with every action: "
        "never a name or an e-mail address",
    )
    oidc_id_prefix: str = Field(
        default="",
        description='Put before the id claim\'s value, e.g. "kc-" when the ids are UUIDs (an id starts with a letter)',
    )
    oidc_employer_claim: str = Field(
        default="employer_ids",
        description="The claim with employer ids: exactly one for a werkgever (required); for "
        "the other roles the employers they work for (absent: every employer)",
    )

    @field_validator("oidc_issuer", "oidc_client_id", "oidc_provider_name", mode="before")
    @classmethod
    def _blank_oidc_is_unset(cls, v: Any) -> Any:
        return (v.strip() or None) if isinstance(v, str) else v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, v: Any) -> Any:
        import ipaddress

        v = _listed(v)
        if isinstance(v, list):
            for entry in v:
                try:
                    ipaddress.ip_network(str(entry), strict=False)
                except ValueError:
                    # Not even "*": trusting every peer would let any client choose its address and the scheme.
                    raise ValueError(
                        f"SPOORWERK_TRUSTED_PROXIES: {str(entry)[:60]!r} is not an IP address or "
                        f"network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                    ) from None
        return v

    @model_validator(mode="after")
    def _signin_configured(self) -> Settings:
        """OpenID Connect is all there or all absent; the error names the setting."""
        from urllib.parse import urlsplit

        problems = []
        if (self.oidc_issuer is None) != (self.oidc_client_id is None):
            problems.append("SPOORWERK_OIDC_ISSUER and SPOORWERK_OIDC_CLIENT_ID are set together or not at all")
        if self.oidc_issuer is not None:
            url = urlsplit(self.oidc_issuer)
            loopback = url.hostname in ("localhost", "127.0.0.1", "::1")
            if not url.hostname or (url.scheme != "https" and not (url.scheme == "http" and loopback)):
                problems.append("SPOORWERK_OIDC_ISSUER must be an https URL (http only for a provider on loopback)")
            if not self.oidc_role_map:
                problems.append("SPOORWERK_OIDC_ROLE_MAP is required with SPOORWERK_OIDC_ISSUER: nobody could sign in")
            # The dashboard's roles; the employee, UWV and the workflow itself act through others.
            for value, role in self.oidc_role_map.items():
                if role in (Role.SYSTEEM, Role.WERKNEMER, Role.UWV):
                    problems.append(
                        f"SPOORWERK_OIDC_ROLE_MAP: {value!r} maps to {role.value}, a role that does not "
                        f"use the dashboard"
                    )
            for name in ("oidc_role_claim", "oidc_id_claim", "oidc_employer_claim"):
                if not getattr(self, name).strip():
                    problems.append(f"SPOORWERK_{name.upper()} is empty")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    encryption_keys: SecretStr | None = Field(
        default=None,
        description='JSON, key id -> base64 of a 32-byte AES key: {"2026-11": "<base64>"}. Every payload sent '
        "through Temporal is encrypted. Required with TEMPORAL_ADDRESS; unset on the embedded "
        "default: one key generated in data_dir",
    )
    encryption_key_id: str | None = Field(
        default=None, description="The key that encrypts new payloads; default the last of SPOORWERK_ENCRYPTION_KEYS"
    )
    # ---- The bedrijfsarts's notes, sealed a second time (issue 18, service.medical_seal).
    medical_keys: SecretStr | None = Field(
        default=None,
        description="JSON like SPOORWERK_ENCRYPTION_KEYS, other keys: they seal the bedrijfsarts's notes a second "
        "time, for the bedrijfsarts's read path only (API, dashboard, the bedrijfsarts's documents), so "
        "the codec endpoint and Temporal's database hold them sealed. Needed by the API and the worker "
        "that renders documents; unset on the embedded default: one key generated in data_dir",
    )
    medical_key_id: str | None = Field(
        default=None, description="The key that seals new notes; default the last of SPOORWERK_MEDICAL_KEYS"
    )

    @model_validator(mode="after")
    def _medical_keys_usable(self) -> Settings:
        if self.medical_keys is not None:
            try:
                KeyRing.parse(self.medical_keys.get_secret_value(), self.medical_key_id)
            except EncryptionKeyError as err:
                raise ValueError(f"SPOORWERK_MEDICAL_KEYS: {err}") from None
        return self

    @property
    def medical_key_file(self) -> Path:
        """Where the embedded default keeps its generated key for the bedrijfsarts's notes."""
        return self.data_dir / "medical-keys.json"

    # ---- Finding people without their names in Temporal (issue 20, operations.people).
    search_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="The installation's secret for the keyed hashes (HMAC-SHA256) of employees' surnames and personnel "
        "numbers that the PersonKeys search attribute holds: at least 32 random characters, the same for "
        "every API process, kept for good (another key finds none of the cases hashed before). Required "
        "where the API runs against TEMPORAL_ADDRESS; unset on the embedded default: one generated in "
        "data_dir",
    )

    @property
    def search_key_file(self) -> Path:
        """Where the embedded default keeps its generated search key."""
        return self.data_dir / "search-key"

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the service's own tables (read audit, dashboard sessions), e.g. "
        "postgresql+psycopg://spoorwerk:…@db/spoorwerk; default a SQLite file in data_dir",
    )
    reporting_database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the reporting store (case facts, employment data, the verzuim figures), e.g. "
        "postgresql+psycopg://spoorwerk:…@db/spoorwerk_reporting; default a SQLite file in data_dir",
    )
    codec_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins of Temporal Web UIs allowed to call the codec endpoint (/codec), comma-separated; "
        "the embedded default adds its own Web UI",
    )
    max_cached_workflows: int = Field(default=10_000, ge=0, description="Size it to the open cases")
    sticky_queue_timeout_seconds: float = Field(
        default=5,
        gt=0,
        description="How long a case's next task waits for the worker that holds it before any worker takes it: "
        "after a worker crash, the first action to each of its cases waits this long",
    )
    max_concurrent_workflow_tasks: int | None = Field(default=None, ge=1)
    max_concurrent_activities: int | None = Field(default=None, ge=1)
    max_activities_per_second: float | None = Field(
        default=None,
        gt=0,
        description="Cap on notifications (and document renders) started per second across all workers of the "
        "task queue: deadlines fall on the same midnight, so without it a mail server gets them all at once",
    )
    max_worker_activities_per_second: float | None = Field(
        default=None,
        gt=0,
        description="The same cap per worker process, enforced by the worker: for a server that does not "
        "enforce the task queue's (Temporal's time-skipping test server), or per mail relay",
    )
    graceful_shutdown_seconds: float = Field(default=10, ge=0)

    # ---- Messages to UWV (issue 21, domain.uwv, service.uwv_outbox, service.uwv_channel).
    uwv_channel: Literal["file"] = Field(
        default="file", description="How messages reach UWV: a file drop (a connector carries the files on)"
    )
    uwv_outbox_dir: Path | None = Field(
        default=None,
        description="Where the file drop writes each message (<message id>.json); default data_dir/uwv/outbox",
    )
    uwv_answers_dir: Path | None = Field(
        default=None,
        description="Where the file drop reads UWV's answers (<message id>.json); default data_dir/uwv/answers",
    )
    uwv_loonheffingennummers: dict[str, str] = Field(
        default_factory=dict,
        description='JSON, employer id -> its loonheffingennummer, by which UWV knows the employer: {"E-acme": '
        '"123456789L01"}; an employer without one gets no message to UWV (the refusal says so)',
    )

    @field_validator("uwv_loonheffingennummers")
    @classmethod
    def _loonheffingennummers(cls, v: dict[str, str]) -> dict[str, str]:
        wrong = sorted(employer for employer, number in v.items() if not is_loonheffingennummer(number))
        if wrong:
            raise ValueError(f"not of the form 123456789L01 for employer(s) {', '.join(wrong)}")
        return v

    @property
    def uwv_outbox_path(self) -> Path:
        return self.uwv_outbox_dir or self.data_dir / "uwv" / "outbox"

    @property
    def uwv_answers_path(self) -> Path:
        return self.uwv_answers_dir or self.data_dir / "uwv" / "answers"

    document_store: Literal["local", "s3"] = Field(default="local", description="Where rendered documents are kept")
    documents_dir: Path | None = Field(default=None, description="The local store's folder; default data_dir/documents")
    s3_bucket: str | None = Field(default=None, description="The bucket, with SPOORWERK_DOCUMENT_STORE=s3")
    s3_prefix: str = Field(default="spoorwerk/", description="Key prefix inside the bucket")
    s3_endpoint_url: str | None = Field(default=None, description="An S3-compatible server (MinIO…); unset: AWS")
    s3_region: str | None = None
    s3_server_side_encryption: str | None = Field(default=None, description='e.g. "AES256" or "aws:kms"')

    role: Literal["all", "worker", "api"] = Field(
        default="all",
        description="What the process runs: the worker, the API (and dashboard), or both; "
        "`python worker.py <role>` wins over SPOORWERK_ROLE",
    )
    health_address: str | None = Field(
        default=None,
        description="host:port of the worker role's /healthz and /readyz; default 127.0.0.1:8081 "
        "(the role all serves them here only when set)",
    )
    metrics_address: str | None = Field(
        default=None, description="host:port serving Prometheus metrics at /metrics (SDK and service); unset: off"
    )
    metrics_refresh_seconds: float = Field(default=60, gt=0, description="How often the worker counts cases per stage")

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is not None and v.strip() == "":
            return None
        if v is not None and ":" not in v:
            raise ValueError("TEMPORAL_ADDRESS must be host:port")
        return v

    @field_validator("health_address", "metrics_address")
    @classmethod
    def _bind_address(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        host, _, port = v.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{v!r} is not host:port (e.g. 0.0.0.0:9464)")
        return v.strip()

    @field_validator("notify_channels", mode="before")
    @classmethod
    def _channel_list(cls, v: Any) -> Any:
        # From the environment: "log,email" (or a JSON list); repeats collapse, order is kept.
        v = _listed(v)
        if isinstance(v, list):
            v = list(dict.fromkeys(v))
        return v

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, v: Any) -> Any:
        v = _listed(v)
        return [o.rstrip("/") if isinstance(o, str) else o for o in v] if isinstance(v, list) else v

    @field_validator("smtp_host", "smtp_username", "smtp_from", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.strip() == "" else v

    @model_validator(mode="after")
    def _channels_configured(self) -> Settings:
        """Each chosen channel has what it needs; the error names the missing setting."""
        problems = []
        if not self.notify_channels:
            problems.append("SPOORWERK_NOTIFY_CHANNELS is empty: name at least one of log, email, webhook")
        if "email" in self.notify_channels:
            for setting, value in (("SPOORWERK_SMTP_HOST", self.smtp_host), ("SPOORWERK_SMTP_FROM", self.smtp_from)):
                if not value:
                    problems.append(f"{setting} is required when SPOORWERK_NOTIFY_CHANNELS includes email")
            if self.smtp_username and not (self.smtp_password and self.smtp_password.get_secret_value()):
                problems.append("SPOORWERK_SMTP_PASSWORD is required when SPOORWERK_SMTP_USERNAME is set")
            if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
                problems.append(f"SPOORWERK_SMTP_CA_FILE is not a file: {self.smtp_ca_file}")
        if "webhook" in self.notify_channels:
            if self.webhook_url is None:
                problems.append("SPOORWERK_WEBHOOK_URL is required when SPOORWERK_NOTIFY_CHANNELS includes webhook")
            if not (self.webhook_secret and self.webhook_secret.get_secret_value()):
                problems.append(
                    "SPOORWERK_WEBHOOK_SECRET is required when SPOORWERK_NOTIFY_CHANNELS includes webhook "
                    "(receivers check the signature with it)"
                )
        if self.document_store == "s3" and not self.s3_bucket:
            problems.append("SPOORWERK_S3_BUCKET is required when SPOORWERK_DOCUMENT_STORE is s3")
        if self.encryption_keys is not None:
            try:
                KeyRing.parse(self.encryption_keys.get_secret_value(), self.encryption_key_id)
            except EncryptionKeyError as err:
                problems.append(f"SPOORWERK_ENCRYPTION_KEYS: {err}")
        elif not self.embedded:
            problems.append(
                "SPOORWERK_ENCRYPTION_KEYS is required when TEMPORAL_ADDRESS is set: payloads hold "
                "personal data and every worker and client of the cluster must share the keys"
            )
        if self.medical_keys is None and not self.embedded:
            problems.append(
                "SPOORWERK_MEDICAL_KEYS is required when TEMPORAL_ADDRESS is set: the bedrijfsarts's notes "
                "are sealed with them, and every API and worker process must share them"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def embedded(self) -> bool:
        """True when Spoorwerk starts its own local Temporal dev server."""
        return self.temporal_address is None

    @property
    def target_host(self) -> str:
        return self.temporal_address or f"{self.dev_server_ip}:{self.dev_server_port}"

    @property
    def health_bind(self) -> str | None:
        """Where the worker's own health endpoints listen: always for the worker role, when set for `all`."""
        return self.health_address or ("127.0.0.1:8081" if self.role == "worker" else None)

    @property
    def api_token_file(self) -> Path:
        """Where the embedded default keeps its generated operations token."""
        return self.data_dir / "api-token"

    @property
    def encryption_key_file(self) -> Path:
        """Where the embedded default keeps its generated encryption key."""
        return self.data_dir / "encryption-keys.json"

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the service's own tables."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'spoorwerk.db'}"

    @property
    def reporting_database(self) -> str:
        """The SQLAlchemy URL of the reporting store (service.reporting)."""
        if self.reporting_database_url is not None:
            return self.reporting_database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'reporting.db'}"

    @property
    def codec_origins(self) -> list[str]:
        """Web UIs that may call the codec endpoint: the configured ones, and the embedded server's own."""
        own = [f"http://{self.dev_server_ip}:{self.dev_server_ui_port}"] if self.embedded else []
        if own and self.dev_server_ip in ("127.0.0.1", "localhost"):
            # The dev server prints its Web UI as localhost, people type 127.0.0.1: both are this machine.
            own = [f"http://{host}:{self.dev_server_ui_port}" for host in ("127.0.0.1", "localhost")]
        return list(dict.fromkeys([*self.codec_cors_origins, *own]))

    @property
    def notification_log_path(self) -> Path:
        return self.notification_log or self.data_dir / "notifications.jsonl"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
