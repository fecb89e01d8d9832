"""WSGI entry point (the ASGI one in ``asgi.py`` is what daphne serves)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
application = get_wsgi_application()
