"""All configuration in one typed object, read from the environment, with working defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Spoorwerk's settings. Temporal's own variables keep their usual names (TEMPORAL_*)."""

    model_config = SettingsConfigDict(env_prefix="SPOORWERK_", extra="ignore")

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
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_CERT_PATH", "SPOORWERK_TEMPORAL_TLS_CLIENT_CERT")
    )
    temporal_tls_client_key: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_KEY_PATH", "SPOORWERK_TEMPORAL_TLS_CLIENT_KEY")
    )
    temporal_tls_server_ca_cert: Path | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "SPOORWERK_TEMPORAL_TLS_CA_CERT")
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

    notification_log: Path | None = Field(
        default=None, description="JSON-lines file the embedded notification channel writes; default data_dir"
    )
    max_cached_workflows: int = Field(default=10_000, ge=0, description="Size it to the open cases")
    max_concurrent_workflow_tasks: int | None = Field(default=None, ge=1)
    max_concurrent_activities: int | None = Field(default=None, ge=1)
    graceful_shutdown_seconds: float = Field(default=10, ge=0)

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is not None and v.strip() == "":
            return None
        if v is not None and ":" not in v:
            raise ValueError("TEMPORAL_ADDRESS must be host:port")
        return v

    @property
    def embedded(self) -> bool:
        """True when Spoorwerk starts its own local Temporal dev server."""
        return self.temporal_address is None

    @property
    def target_host(self) -> str:
        return self.temporal_address or f"{self.dev_server_ip}:{self.dev_server_port}"

    @property
    def notification_log_path(self) -> Path:
        return self.notification_log or self.data_dir / "notifications.jsonl"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
