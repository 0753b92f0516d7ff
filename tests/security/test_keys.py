"""Key files: `keys generate` writes usable, private, never-overwritten keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq

from entro_net.cli.main import main
from entro_net.config import NetworkConfig
from entro_net.errors import ConfigError
from entro_net.security.curve import Curve, Domain, Role
from entro_net.security.keys import (
    generate_keys,
    is_z85_key,
    load_allow_list,
    load_keypair,
    load_public_key,
)


def test_keys_generate_writes_coordinator_node_and_observer_pairs_and_allow_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["keys", "generate", str(tmp_path), "--nodes", "3"])

    assert status == 0
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == sorted(
        f"{stem}{suffix}"
        for stem in ("coordinator", "node-0", "node-1", "node-2", "observer-0")
        for suffix in (".key", ".key_secret")
    )
    allowed = load_allow_list(tmp_path / "allowed")
    nodes = {load_keypair(tmp_path / f"node-{i}.key_secret").public for i in range(3)}
    observer = load_keypair(tmp_path / "observer-0.key_secret").public
    assert allowed.nodes == nodes
    assert allowed.observers == {observer}
    assert "coordinator.key_secret" in capsys.readouterr().out


def test_secret_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    generate_keys(tmp_path, 1, 1)

    for path in tmp_path.glob("*.key_secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    pair = load_keypair(tmp_path / "node-0.key_secret")
    assert is_z85_key(pair.public_text)
    assert load_public_key(tmp_path / "node-0.key") == pair.public


def test_generate_again_keeps_existing_keys_and_adds_new_nodes(tmp_path: Path) -> None:
    generate_keys(tmp_path, 2, 1)
    before = (tmp_path / "node-0.key_secret").read_bytes()

    created = generate_keys(tmp_path, 3, 1)

    assert (tmp_path / "node-0.key_secret").read_bytes() == before
    assert sorted(str(p.relative_to(tmp_path)) for p in created) == [
        "allowed/node-2.key",
        "node-2.key",
        "node-2.key_secret",
    ]


def test_generated_keys_complete_a_curve_handshake(tmp_path: Path) -> None:
    generate_keys(tmp_path, 1, 0)
    server = load_keypair(tmp_path / "coordinator.key_secret")
    client = load_keypair(tmp_path / "node-0.key_secret")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    rep = ctx.socket(zmq.REP)
    req = ctx.socket(zmq.REQ)
    try:
        rep.curve_secretkey = server.secret
        rep.curve_server = True
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req.curve_publickey = client.public
        req.curve_secretkey = client.secret
        req.curve_serverkey = load_public_key(tmp_path / "coordinator.key")
        req.connect(f"tcp://127.0.0.1:{port}")
        req.send(b"ping")

        assert rep.poll(5000), "no CURVE message within 5 s"
        assert rep.recv() == b"ping"
    finally:
        rep.close(0)
        req.close(0)
        ctx.term()


def test_a_public_key_file_is_not_accepted_as_a_secret(tmp_path: Path) -> None:
    generate_keys(tmp_path, 1, 0)

    with pytest.raises(ConfigError, match="only a public key"):
        load_keypair(tmp_path / "node-0.key")
    with pytest.raises(ConfigError, match="keys generate"):
        load_keypair(tmp_path / "missing.key_secret")


def _net(**fields: str) -> NetworkConfig:
    return NetworkConfig(**fields)  # type: ignore[arg-type]


def coordinator_curve(keys: Path) -> Curve | None:
    """The coordinator's CURVE settings from a directory ``keys generate`` made."""
    return Curve.from_config(
        _net(
            curve_secret=str(keys / "coordinator.key_secret"),
            allow=str(keys / "allowed"),
        ),
        Role.COORDINATOR,
    )


def test_secure_mode_is_off_without_a_secret_and_half_settings_are_refused(
    tmp_path: Path,
) -> None:
    generate_keys(tmp_path, 1, 0)

    assert Curve.from_config(_net(), Role.NODE) is None
    with pytest.raises(ConfigError, match="--curve-secret"):
        Curve.from_config(
            _net(coordinator_key=str(tmp_path / "coordinator.key")), Role.NODE
        )
    with pytest.raises(ConfigError, match="--coordinator-key"):
        Curve.from_config(
            _net(curve_secret=str(tmp_path / "node-0.key_secret")), Role.NODE
        )
    with pytest.raises(ConfigError, match="--allow"):
        Curve.from_config(
            _net(curve_secret=str(tmp_path / "coordinator.key_secret")),
            Role.COORDINATOR,
        )


def test_control_admits_nodes_only_and_events_admit_observers_too(
    tmp_path: Path,
) -> None:
    generate_keys(tmp_path, 1, 1)
    curve = coordinator_curve(tmp_path)
    assert curve is not None
    node = load_public_key(tmp_path / "node-0.key")
    observer = load_public_key(tmp_path / "observer-0.key")
    stranger, _ = zmq.curve_keypair()

    assert curve.admits(Domain.CONTROL, node, 0.0)
    assert not curve.admits(Domain.CONTROL, observer, 0.0)
    assert curve.admits(Domain.EVENTS, observer, 0.0)
    assert not curve.admits(Domain.EVENTS, stranger, 0.0)


def test_a_key_dropped_into_the_allow_list_is_admitted_without_a_restart(
    tmp_path: Path,
) -> None:
    generate_keys(tmp_path, 1, 0)
    curve = coordinator_curve(tmp_path)
    assert curve is not None
    extra = tmp_path / "extra"
    generate_keys(extra, 1, 0)
    newcomer = load_public_key(extra / "node-0.key")
    assert not curve.admits(Domain.CONTROL, newcomer, 0.0)

    (tmp_path / "allowed" / "node-9.key").write_bytes(
        (extra / "node-0.key").read_bytes()
    )

    assert curve.admits(Domain.CONTROL, newcomer, 1e9)
