"""Prompt files: the system prompt and one file per mode (green, blue, indigo, violet).

The system prompt carries the rules; the mode file only changes tone and emphasis. User text
never goes into these: it is sent as its own message, and tool results as tool outputs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from agent.models import AgentMode

PROMPT_DIR = Path(__file__).resolve().parent
DEFAULT_MODE = AgentMode.BLUE.value
MODES: tuple[str, ...] = tuple(AgentMode.values)


@cache
def prompt_text(name: str) -> str:
    """The text of ``<name>.md`` (system or a mode), read once."""
    if name != "system" and name not in MODES:
        raise ValueError(f"Unknown prompt {name!r}.")
    return (PROMPT_DIR / f"{name}.md").read_text(encoding="utf-8").strip()


def prompt_build(*, mode: str, portfolio_name: str, portfolio_id: str) -> str:
    """System prompt for one conversation: rules, the portfolio it is about, then the mode."""
    # Portfolio names are user text: keep them on one line and short so they cannot pose as rules.
    safe_name = " ".join(portfolio_name.split())[:120].replace("{", "(").replace("}", ")")
    system = prompt_text("system").replace("{portfolio_name}", safe_name).replace("{portfolio_id}", portfolio_id)
    return f"{system}\n\n{prompt_text(mode)}"
