"""Connecting to Temporal with Spoorwerk's data converter and search attributes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import RPCError, RPCStatusCode

from service import metrics, tracing
from service.codec import EncryptionCodec, EncryptionKeyError, KeyRing, SealedOnlyPayloadConverter
from service.settings import Settings


def data_converter(ring: KeyRing, *, accept_unencrypted_legacy: bool = False) -> DataConverter:
    """Pydantic payloads, sealed with the ring's keys; failure messages and stack traces sealed too.

    An unencrypted payload is refused (a forged update rejected, a forged signal dropped: service.codec).
    `accept_unencrypted_legacy` is for replaying the decrypted recordings in tests/histories only.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=SealedOnlyPayloadConverter,
        payload_codec=EncryptionCodec(ring, accept_unencrypted_legacy=accept_unencrypted_legacy),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def key_ring(settings: Settings, *, create: bool = False) -> KeyRing:
    """The configured keys; on the embedded default the data folder's (`create`: make one if missing)."""
    if settings.encryption_keys is not None:
        return KeyRing.parse(settings.encryption_keys.get_secret_value(), settings.encryption_key_id)
    path = settings.encryption_key_file
    if not path.exists() and not create:
        raise EncryptionKeyError(
            f"no encryption keys: {path} does not exist (start the service once, or set SPOORWERK_ENCRYPTION_KEYS)"
        )
    return KeyRing.from_file(path, settings.encryption_key_id)


def tls_config(settings: Settings) -> TLSConfig | None:
    """TLS from Spoorwerk's own settings: system roots, or mTLS with the given files; None where they name none."""
    files = (settings.temporal_tls_client_cert, settings.temporal_tls_client_key, settings.temporal_tls_server_ca_cert)
    if not settings.temporal_tls and not any(files) and not settings.temporal_tls_server_name:
        return None
    return TLSConfig(
        client_cert=settings.temporal_tls_client_cert.read_bytes() if settings.temporal_tls_client_cert else None,
        client_private_key=settings.temporal_tls_client_key.read_bytes() if settings.temporal_tls_client_key else None,
        server_root_ca_cert=settings.temporal_tls_server_ca_cert.read_bytes()
        if settings.temporal_tls_server_ca_cert
        else None,
        domain=settings.temporal_tls_server_name,
    )


def connect_config(settings: Settings, *, env: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """How to reach Temporal: the SDK's client configuration (temporalio.envconfig: the profile `TEMPORAL_PROFILE` of
    `TEMPORAL_CONFIG_FILE` or the default file, and the `TEMPORAL_*` variables, `TEMPORAL_GRPC_META_*` among them),
    with Spoorwerk's settings on top: the address (the embedded dev server's when no cluster is named, and then
    nothing of a cluster's profile), and whatever namespace, API key or TLS they set themselves (also by their
    `SPOORWERK_TEMPORAL_*` names). `env`: the environment to read instead of the process's (tests)."""
    if settings.embedded:
        return ClientConnectConfig(target_host=settings.target_host, namespace=settings.temporal_namespace, tls=False)
    config = ClientConfigProfile.load(override_env_vars=env).to_client_connect_config()
    config["target_host"] = settings.target_host
    given = settings.model_fields_set
    if "temporal_namespace" in given or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    if settings.temporal_api_key is not None:
        config["api_key"] = settings.temporal_api_key
    tls = tls_config(settings)
    if tls is not None:
        config["tls"] = tls
    elif "temporal_tls" in given:  # TLS switched off by Spoorwerk's own setting
        config["tls"] = False
    return config


async def connect(settings: Settings) -> Client:
    """A client for the configured Temporal (the embedded dev server by default)."""
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(key_ring(settings)),
        # Its workers take these too: one /metrics endpoint, one trace per case action.
        runtime=metrics.runtime(settings),
        interceptors=[PatientQueries(), *tracing.interceptors()],
    )


# A query meets "Workflow Task in failed state" (FAILED_PRECONDITION) while the case's last workflow task failed and
# its next attempt has not run yet: after a worker's restart, or a task that timed out on a starved machine. The
# next attempt is seconds away, so a query is asked again a few times (about 3 s in all), as an action is sent again
# (operations.cases); what is still failing after that is the caller's 503.
QUERY_ATTEMPTS = 5


class PatientQueries(Interceptor):
    """Every query of the client asked again on FAILED_PRECONDITION, with a short backoff."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _PatientQueries(next)


class _PatientQueries(OutboundInterceptor):
    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        for attempt in range(1, QUERY_ATTEMPTS + 1):
            try:
                return await super().query_workflow(input)
            except RPCError as err:
                if err.status is not RPCStatusCode.FAILED_PRECONDITION or attempt == QUERY_ATTEMPTS:
                    raise
                await asyncio.sleep(0.2 * attempt)
        raise AssertionError("unreachable")


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register Spoorwerk's search attributes on the namespace where missing; returns those added."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    from workflows import search_attributes as sa

    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        known = set()
    # The SDK's IntEnum and the protocol's enum share their numbers.
    missing = {k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL if k.name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
