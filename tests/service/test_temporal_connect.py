"""How the service reaches Temporal: the SDK's client configuration (temporalio.envconfig), Spoorwerk's settings on
top of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.settings import Settings
from service.temporal import connect_config

PROFILES = """
[profile.default]
address = "ignored.example:7233"
namespace = "from-default"

[profile.cloud]
namespace = "spoorwerk.a1b2c"
api_key = "profile-key"
[profile.cloud.grpc_meta]
x-team = "reintegratie"
"""


def _cluster(**given: Any) -> Settings:
    # As the environment would have set them: only what is named counts as given (model_fields_set).
    return Settings.model_construct(temporal_address="temporal.example:7233", **given)


def test_a_profile_of_the_sdks_config_file_gives_namespace_api_key_and_metadata(tmp_path: Path):
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"}
    found = connect_config(_cluster(), env=env)
    assert found["target_host"] == "temporal.example:7233"  # Spoorwerk's address, not the profile's
    assert found["namespace"] == "spoorwerk.a1b2c"
    assert found["api_key"] == "profile-key" and found["tls"] is True  # an API key means TLS, as the SDK has it
    assert found["rpc_metadata"] == {"x-team": "reintegratie"}


def test_spoorwerks_own_settings_win_over_the_profile(tmp_path: Path):
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"}
    found = connect_config(_cluster(temporal_namespace="mine", temporal_api_key="my-key", temporal_tls=False), env=env)
    assert (found["namespace"], found["api_key"], found["tls"]) == ("mine", "my-key", False)
    # The namespace's default is no setting: the profile's stands; with neither, Spoorwerk's default.
    assert connect_config(_cluster(), env=env)["namespace"] == "spoorwerk.a1b2c"
    assert connect_config(_cluster(), env={})["namespace"] == "default"


def test_temporal_variables_the_settings_do_not_know_are_read_by_the_sdk():
    env = {"TEMPORAL_NAMESPACE": "ns-from-env", "TEMPORAL_GRPC_META_X_REGION": "eu-west"}
    found = connect_config(_cluster(), env=env)
    assert found["namespace"] == "ns-from-env" and found["rpc_metadata"] == {"x-region": "eu-west"}
    assert "tls" not in found  # nothing asked for TLS


def test_the_embedded_dev_server_takes_nothing_of_a_clusters_profile(tmp_path: Path):
    config = tmp_path / "temporal.toml"
    config.write_text(PROFILES)
    embedded = Settings.model_construct(temporal_address=None)
    found = connect_config(embedded, env={"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "cloud"})
    assert found == {"target_host": "127.0.0.1:7233", "namespace": "default", "tls": False}


async def test_a_query_is_asked_again_while_the_case_s_workflow_task_is_failing(monkeypatch) -> None:
    """`PatientQueries`: FAILED_PRECONDITION ("Workflow Task in failed state") is asked again, other errors are not."""
    import asyncio as _asyncio

    from temporalio.service import RPCError, RPCStatusCode

    from service import temporal

    monkeypatch.setattr(_asyncio, "sleep", _no_wait)
    answers: list[Any] = [
        RPCError("Workflow Task in failed state.", RPCStatusCode.FAILED_PRECONDITION, b""),
        RPCError("Workflow Task in failed state.", RPCStatusCode.FAILED_PRECONDITION, b""),
        "the dossier",
    ]

    class Next:
        calls = 0

        async def query_workflow(self, input: Any) -> Any:
            Next.calls += 1
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    patient = temporal.PatientQueries().intercept_client(Next())  # type: ignore[arg-type]
    assert await patient.query_workflow(None) == "the dossier"  # type: ignore[arg-type]
    assert Next.calls == 3

    # Still failing after every attempt: the caller's error. Another status: at once.
    answers[:] = [RPCError("failing", RPCStatusCode.FAILED_PRECONDITION, b"")] * temporal.QUERY_ATTEMPTS
    Next.calls = 0
    with pytest.raises(RPCError):
        await patient.query_workflow(None)  # type: ignore[arg-type]
    assert Next.calls == temporal.QUERY_ATTEMPTS
    answers[:] = [RPCError("no such workflow", RPCStatusCode.NOT_FOUND, b"")]
    Next.calls = 0
    with pytest.raises(RPCError):
        await patient.query_workflow(None)  # type: ignore[arg-type]
    assert Next.calls == 1


async def _no_wait(seconds: float) -> None:
    return None
