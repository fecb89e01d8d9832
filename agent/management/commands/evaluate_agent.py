"""``manage.py evaluate_agent``: ask the evaluation set (agent/evaluation.py) and report correctness.

Runs against the configured provider (``AGENT_PROVIDER``; ``--provider openai`` with
``OPENAI_BASE_URL``/``OPENAI_MODEL`` for any OpenAI-compatible server) on the current database,
which needs the demo users and their analytics (``manage.py demo --no-serve`` or ``seed_demo`` +
``run_batch``). Prints the summary, each failure with what it missed, and writes the full report
as JSON with ``--json``. Exit status 1 when a case fails and ``--strict`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agent.evaluation import Case, eval_cases, evaluate, report
from agent.services import chat_complete
from portfolios.models import Portfolio, User


class Command(BaseCommand):
    help = "Ask the agent's evaluation set and report how many expected figures its answers contain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", choices=["local", "openai"], help="Override AGENT_PROVIDER.")
        parser.add_argument("--limit", type=int, default=0, help="Ask only the first N cases.")
        parser.add_argument("--only", default="", help="Ask only the cases whose id contains this text.")
        parser.add_argument("--json", dest="json_path", default="", help="Write the whole report here.")
        parser.add_argument("--strict", action="store_true", help="Exit 1 when any case fails.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["provider"]:
            settings.AGENT_PROVIDER = options["provider"]
        cases = [c for c in eval_cases() if options["only"] in c.id]
        if options["limit"]:
            cases = cases[: options["limit"]]
        users = {u.email: u for u in User.objects.filter(email__in={c.email for c in cases})}
        missing = sorted({c.email for c in cases} - set(users))
        if missing:
            raise CommandError(f"Demo users missing: {', '.join(missing)}; run `manage.py seed_demo` and `run_batch`.")

        def ask(case: Case, portfolio: Portfolio) -> dict[str, Any]:
            return chat_complete(user=users[case.email], message=case.question, portfolio_id=portfolio.id)

        try:
            outcome = report(evaluate(ask, cases))
        except LookupError as exc:
            raise CommandError(f"{exc}; run `manage.py run_batch` first.") from None
        outcome["provider"] = settings.AGENT_PROVIDER
        outcome["model"] = settings.OPENAI_MODEL if settings.AGENT_PROVIDER == "openai" else "local-rules-v1"
        self.stdout.write(
            f"{outcome['provider']} ({outcome['model']}): {outcome['passed']}/{outcome['cases']} cases correct "
            f"({outcome['correct_pct']}%), {outcome['figures_found']}/{outcome['figures_expected']} figures found"
        )
        for failed in outcome["failures"]:
            self.stdout.write(f"  FAIL {failed['id']}: {failed['question']!r} missing {', '.join(failed['missing'])}")
        if options["json_path"]:
            Path(options["json_path"]).write_text(json.dumps(outcome, indent=2), encoding="utf-8")
        if options["strict"] and outcome["failures"]:
            raise SystemExit(1)
