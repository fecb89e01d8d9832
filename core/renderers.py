"""The API's renderers: DRF's browsable API on a template that keeps to the site's Content-Security-Policy,
and DRF's JSON written by orjson for large answers (``FastJSONRenderer``).

DRF's own page renders its "Log out" link with an inline ``onclick`` handler, which ``script-src 'self'``
(``settings.CONTENT_SECURITY_POLICY``) blocks: the link did nothing. The template here
(``core/browsable_api.html``) replaces that one block with a plain form and a submit button.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import BrowsableAPIRenderer as DRFBrowsableAPIRenderer
from rest_framework.renderers import JSONRenderer
from rest_framework.utils import encoders


class BrowsableAPIRenderer(DRFBrowsableAPIRenderer):
    """DRF's browsable API with a logout that needs no inline script."""

    template = "core/browsable_api.html"


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, written by orjson: the same document (compact UTF-8, as DRF's settings make it),
        several times faster on large answers (a what-if's 0.2–2 MB).

        Types JSON lacks go through DRF's own encoder (dates and times, Decimal, generators, numpy arrays...), so
        they read as they would from DRF's renderer; uuids and numpy numbers are written by orjson, as their text
        and value. Floats are written in their shortest round-trip form, as Python's ``repr`` (only the exponent's
        notation may differ: ``1e-05`` is ``1e-5``). One difference: a NaN or infinity is written ``null`` where
        DRF's strict rendering refuses it. An indented rendering (``; indent=`` in the media type), or one that DRF's
    settings make ASCII-only or spaced (``UNICODE_JSON``, ``COMPACT_JSON`` off), is DRF's own.
    """

    _encoder = encoders.JSONEncoder()
    _options = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATETIME

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if data is None:
            return b""
        if self.ensure_ascii or not self.compact or self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        return orjson.dumps(data, default=self._encoder.default, option=self._options)
