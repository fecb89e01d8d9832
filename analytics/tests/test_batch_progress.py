"""What ``run_batch`` says while it runs names what it does: the factor fit is announced for the steps that need it."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from conftest import ANALYTICS_AS_OF


def _run(*steps: str) -> str:
    out = StringIO()
    call_command(
        "run_batch", "--skip-sync", "--date", ANALYTICS_AS_OF.isoformat(), "--steps", ",".join(steps), stdout=out
    )
    return out.getvalue()


def test_stress_and_var_alone_fit_the_model_for_themselves_not_as_the_factors_step(analytics_demo) -> None:
    output = _run("stress_test", "var")
    assert "factors:" not in output
    assert "factor model: fitting every symbol's betas (for stress_test, var)" in output


def test_steps_that_need_no_fit_say_nothing_about_one(analytics_demo) -> None:
    output = _run("overview", "snapshots")
    assert "factor" not in output
