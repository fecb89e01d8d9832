"""The analytics models read correctly in the admin."""

from __future__ import annotations

from django.test import Client


def test_position_metrics_is_named_in_the_plural_without_a_double_s(staff_user) -> None:
    client = Client()
    client.force_login(staff_user)
    index = client.get("/admin/").content.decode()
    assert "Position metrics<" in index and "metricss" not in index
    assert client.get("/admin/analytics/positionmetrics/").status_code == 200
