"""Migrations, forward from an empty database and from the previous release's schema (issue 17, data safety).

"The previous release" is each app's migration before its newest one (apps with a single migration
stay): the test migrates back there, stores data with the models *of that schema*, migrates forward
and reads the data back with today's models — nothing lost, new columns at their documented defaults.
Generic over the migration graph, so a new migration of any app is covered without touching this file.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder


def _leaves(executor: MigrationExecutor) -> list[tuple[str, str]]:
    return executor.loader.graph.leaf_nodes()


def _project_apps() -> set[str]:
    base = str(settings.BASE_DIR)
    return {config.label for config in django_apps.get_app_configs() if str(config.path).startswith(base)}


def _previous(executor: MigrationExecutor) -> list[tuple[str, str]]:
    """Every app at its newest migration except the project apps that can step one migration back alone:
    an app steps back when that plan only unapplies (a newest migration others depend on stays)."""
    graph = executor.loader.graph
    ours = _project_apps()
    targets = dict(_leaves(executor))
    for app, name in sorted(targets.items()):
        if app not in ours:
            continue
        own_parents = [p for p in graph.node_map[(app, name)].parents if p.key[0] == app]
        if not own_parents:
            continue
        trial = {**targets, app: own_parents[0].key[1]}
        plan = executor.migration_plan(list(trial.items()))
        if plan and all(backwards for _, backwards in plan):
            targets = trial
    return list(targets.items())


@pytest.mark.django_db
def test_the_test_database_was_built_forward_from_empty_and_matches_the_models():
    executor = MigrationExecutor(connection)
    applied = set(MigrationRecorder(connection).applied_migrations())
    assert set(executor.loader.graph.nodes) <= applied  # every migration ran, from an empty database
    assert not executor.migration_plan(_leaves(executor))  # nothing left to apply
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # SystemExit(1) if models drifted
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_data_stored_under_the_previous_schema_survives_the_migrations_forward():
    executor = MigrationExecutor(connection)
    previous = _previous(executor)
    assert ("analytics", "0008_snapshot_flows") in previous or any(a == "analytics" for a, _ in previous)
    executor.migrate(previous)
    old = MigrationExecutor(connection).loader.project_state(previous).apps

    User = old.get_model("portfolios", "User")
    Portfolio = old.get_model("portfolios", "Portfolio")
    Position = old.get_model("portfolios", "Position")
    PriceBar = old.get_model("marketdata", "PriceBar")
    BatchRun = old.get_model("analytics", "BatchRun")
    user = User.objects.create(email="kept@example.com", password="!")
    portfolio = Portfolio.objects.create(user=user, name="Kept", equity_balance=Decimal("100000"))
    position = Position.objects.create(
        portfolio=portfolio,
        symbol="AAPL",
        position_type="LONG",
        quantity=Decimal("10"),
        entry_price=Decimal("150.25"),
        entry_date=dt.date(2026, 1, 5),
    )
    PriceBar.objects.create(
        symbol="AAPL", date=dt.date(2026, 11, 20), open=1, high=2, low=0.5, close=1.5, adj_close=1.5, volume=7,
        source="simulated",
    )  # fmt: skip
    run_id = uuid.uuid4()
    BatchRun.objects.create(id=run_id, as_of=dt.date(2026, 11, 20), status="completed", steps=["var"])

    MigrationExecutor(connection).migrate(_leaves(MigrationExecutor(connection)))

    from analytics.models import BatchRefusal
    from analytics.models import BatchRun as BatchRunNow
    from marketdata.models import PriceBar as PriceBarNow
    from marketdata.models import PriceQuarantine
    from portfolios.models import Position as PositionNow

    kept = PositionNow.objects.get(pk=position.pk)
    assert (kept.symbol, kept.quantity, kept.entry_price) == ("AAPL", Decimal("10"), Decimal("150.25"))
    bar = PriceBarNow.objects.get(symbol="AAPL", date=dt.date(2026, 11, 20))
    assert (bar.close, bar.volume, bar.quarantined) == (1.5, 7, False)  # the new flag defaults to "not held back"
    run = BatchRunNow.objects.get(pk=run_id)
    assert (run.status, run.steps, run.heartbeat_at, run.warnings) == ("completed", ["var"], None, "")
    assert not BatchRefusal.objects.exists() and not PriceQuarantine.objects.exists()
    assert not MigrationExecutor(connection).migration_plan(_leaves(MigrationExecutor(connection)))
