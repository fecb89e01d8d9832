"""The evaluation set against the local provider: every expected figure (read from the selectors) in every answer.

The demo's three portfolios get 300 sessions of simulated prices and the analytics batch; each case
is asked through the chat service (the same path as the REST endpoint), and its answer must
contain every figure the selectors give for it — or, for the questions it must decline, say so.
"""

from __future__ import annotations

import json

import pytest

from agent.evaluation import eval_cases, evaluate, report
from agent.services import chat_complete
from portfolios.models import User

pytestmark = pytest.mark.slow


def test_the_local_provider_answers_the_whole_evaluation_set(analytics_demo, settings):
    settings.AGENT_PROVIDER = "local"
    cases = eval_cases()
    assert len(cases) >= 60
    users = {u.email: u for u in User.objects.filter(email__in={c.email for c in cases})}

    def ask(case, portfolio):
        return chat_complete(user=users[case.email], message=case.question, portfolio_id=portfolio.id)

    outcome = report(evaluate(ask, cases))
    assert outcome["failures"] == [], json.dumps(outcome["failures"][:5], indent=1)
    assert outcome["passed"] == len(cases) and outcome["figures_found"] == outcome["figures_expected"] > 150


def test_evaluate_agent_reports_correctness_for_an_openai_compatible_server(analytics_demo, settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from agent.tests import fake_openai as fake

    server = fake.serve(fake.FakeOpenAI())
    try:
        # A model that answers every question with the same wrong sentence, no tools.
        server.steps = [{"events": fake.responses_text(["Your VaR is $1."])} for _ in range(4)]
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = server.base_url, "sk-test"
        settings.OPENAI_MODEL, settings.OPENAI_API_STYLE, settings.OPENAI_MAX_RETRIES = "primary", "responses", 0
        out = StringIO()
        path = tmp_path / "report.json"
        call_command("evaluate_agent", "--provider", "openai", "--only", "hnw.var", "--json", str(path), stdout=out)
        saved = json.loads(path.read_text())
        assert saved["provider"] == "openai" and saved["cases"] == 2 and saved["passed"] == 0
        assert "0/2 cases correct" in out.getvalue() and "99% historical VaR" in out.getvalue()
        assert len(server.requests) == 2  # the questions did reach the server
        out = StringIO()
        call_command("evaluate_agent", "--provider", "local", "--only", "individual.", stdout=out)
        assert "28/28 cases correct (100.0%)" in out.getvalue()
    finally:
        assert server.server is not None
        server.server.shutdown()
        server.server.server_close()
