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
