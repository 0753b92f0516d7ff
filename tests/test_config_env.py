"""Environment variables are named like the flags they stand for."""

from __future__ import annotations

import pytest

from entro_net.config import NetworkConfig


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("ENTRO_NET_STALENESS", "staleness_s"),
        ("ENTRO_NET_LOCKSTEP_WAIT", "lockstep_wait_s"),
        ("ENTRO_NET_HEARTBEAT_INTERVAL", "heartbeat_interval_s"),
        ("ENTRO_NET_REJOIN_BACKOFF_MAX", "rejoin_backoff_max_s"),
    ],
)
def test_the_flag_named_variable_sets_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str
) -> None:
    monkeypatch.setenv(variable, "3.25")

    assert getattr(NetworkConfig(), field) == 3.25


def test_the_field_named_variable_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTRO_NET_STALENESS_S", "4.5")

    assert NetworkConfig().staleness_s == 4.5
    assert NetworkConfig(staleness_s=2.0).staleness_s == 2.0
