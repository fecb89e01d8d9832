"""Models of the reports app."""

from __future__ import annotations
