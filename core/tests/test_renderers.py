"""FastJSONRenderer writes the document DRF's JSONRenderer writes (parsed equal), whatever the value types."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import numpy as np
import pytest
from rest_framework.renderers import JSONRenderer

from core.renderers import FastJSONRenderer

DOCUMENT = {
    "text": "Zürich — ☂",
    "int": 12,
    "big": 2**53 + 1,
    "floats": [0.1, -0.0, 1e-05, 1e16, 123456.789, 2.5e-300, 1.7976931348623157e308],
    "bool": True,
    "none": None,
    "nested": {"a": [{"b": (1, 2)}], "empty": {}},
    "uuid": uuid.UUID("1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"),
    "date": dt.date(2026, 11, 25),
    "datetime": dt.datetime(2026, 11, 25, 21, 30, 5, 123456, tzinfo=dt.UTC),
    "naive": dt.datetime(2026, 11, 25, 21, 30),
    "time": dt.time(9, 30),
    "decimal": Decimal("1234.5600"),
    "numpy": [np.float64(0.25), np.int64(7), np.array([1.5, 2.0])],
    "float_keys": {0.95: "x", 1: "y"},
}


def test_the_fast_renderer_writes_drfs_document() -> None:
    fast, drf = FastJSONRenderer().render(DOCUMENT), JSONRenderer().render(DOCUMENT)
    assert isinstance(fast, bytes)
    assert json.loads(fast) == json.loads(drf)
    # Compact and UTF-8, as DRF's settings make it.
    assert b"Z\xc3\xbcrich" in fast and b", " not in fast and b": " not in fast


@pytest.mark.parametrize("media_type", ["application/json; indent=2"])
def test_an_indented_rendering_is_drfs_own(media_type: str) -> None:
    assert FastJSONRenderer().render(DOCUMENT, media_type) == JSONRenderer().render(DOCUMENT, media_type)


def test_nothing_renders_as_empty_bytes() -> None:
    assert FastJSONRenderer().render(None) == JSONRenderer().render(None) == b""
