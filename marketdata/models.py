"""Models of the marketdata app."""

from __future__ import annotations
