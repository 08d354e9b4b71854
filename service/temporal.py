"""Connecting to Temporal with Spoorwerk's data converter and search attributes."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

from service.settings import Settings

DATA_CONVERTER = pydantic_data_converter


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS from settings: off, system roots, or mTLS with the given files."""
    files = (settings.temporal_tls_client_cert, settings.temporal_tls_client_key, settings.temporal_tls_server_ca_cert)
    if not settings.temporal_tls and not any(files):
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_client_cert.read_bytes() if settings.temporal_tls_client_cert else None,
        client_private_key=settings.temporal_tls_client_key.read_bytes() if settings.temporal_tls_client_key else None,
        server_root_ca_cert=settings.temporal_tls_server_ca_cert.read_bytes()
        if settings.temporal_tls_server_ca_cert
        else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings) -> Client:
    """A client for the configured Temporal (the embedded dev server by default)."""
    return await Client.connect(
        settings.target_host,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        data_converter=DATA_CONVERTER,
    )
