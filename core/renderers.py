"""The browsable API's renderer: DRF's, on a template that keeps to the site's Content-Security-Policy.

DRF's own page renders its "Log out" link with an inline ``onclick`` handler, which ``script-src 'self'``
(``settings.CONTENT_SECURITY_POLICY``) blocks: the link did nothing. The template here
(``core/browsable_api.html``) replaces that one block with a plain form and a submit button.
"""

from __future__ import annotations

from rest_framework.renderers import BrowsableAPIRenderer as DRFBrowsableAPIRenderer


class BrowsableAPIRenderer(DRFBrowsableAPIRenderer):
    """DRF's browsable API with a logout that needs no inline script."""

    template = "core/browsable_api.html"
