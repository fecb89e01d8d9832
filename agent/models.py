"""Models of the agent app."""

from __future__ import annotations
