"""A pydantic value as sealed bytes for a file kept outside Temporal, and back: the data converter's own encoding and
payload codec (service.codec), so the same keys protect it, rotation included."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

M = TypeVar("M", bound=BaseModel)


async def seal(converter: DataConverter, value: BaseModel) -> bytes:
    [payload] = await converter.encode([value])
    return payload.SerializeToString()


async def unseal(converter: DataConverter, data: bytes, kind: type[M]) -> M:
    [value] = await converter.decode([Payload.FromString(data)], [kind])
    if not isinstance(value, kind):
        raise TypeError(f"sealed data is not a {kind.__name__}")
    return value
