"""Message models: what a sender can build, and how it reads as JSON."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from entro_net.config import NODE_ID_MAX_CHARS, PROTOCOL_VERSION
from entro_net.protocol import (
    CONTROL_TYPES,
    Hello,
    Leave,
    MessageType,
    Threshold,
    as_dict,
    is_valid_endpoint,
    is_valid_node_id,
)
from tests.protocol.samples import HEADER, a_state, every_message, header


@pytest.mark.parametrize(
    "text", ["node-1", "host.example-3f2a", "a", "n" * NODE_ID_MAX_CHARS, "c@h:1"]
)
def test_good_node_ids_are_accepted(text: str) -> None:
    assert is_valid_node_id(text)


@pytest.mark.parametrize(
    "text",
    ["", "-lead", "has space", "tab\t", "n" * (NODE_ID_MAX_CHARS + 1), "é", "a\n"],
)
def test_bad_node_ids_are_refused(text: str) -> None:
    assert not is_valid_node_id(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("tcp://127.0.0.1:5555", True),
        ("tcp://node-3:1", True),
        ("tcp://[::1]:65535", True),
        ("tcp://h:0", False),
        ("tcp://h:65536", False),
        ("tcp://*:5555", False),
        ("ipc:///tmp/x", False),
        ("tcp://h", False),
        ("tcp://h:5555\n", False),
    ],
)
def test_endpoints_must_be_dialable_tcp(text: str, ok: bool) -> None:
    assert is_valid_endpoint(text) is ok


def test_control_messages_default_to_the_current_version() -> None:
    leave = Leave(**HEADER, reason="done")

    assert leave.v == PROTOCOL_VERSION


def test_control_messages_refuse_another_version_and_nan() -> None:
    with pytest.raises(ValidationError):
        Leave(**HEADER, reason="done", v=PROTOCOL_VERSION + 1)
    with pytest.raises(ValidationError):
        Threshold(
            **header(ts=math.nan),
            step=1, theta_net=1.4, var=0.0, v_net=0.0, n_taking_part=1,
        )  # fmt: skip


def test_control_messages_are_frozen() -> None:
    leave = Leave(**HEADER, reason="done")

    with pytest.raises(ValidationError):
        leave.reason = "changed"  # type: ignore[misc]


def test_hello_refuses_a_wildcard_endpoint() -> None:
    with pytest.raises(ValidationError, match="endpoint"):
        Hello(**HEADER, endpoint="tcp://*:6000")


def test_every_type_but_state_has_a_model() -> None:
    assert set(CONTROL_TYPES) == set(MessageType) - {MessageType.STATE}
    assert all(cls.kind is kind for kind, cls in CONTROL_TYPES.items())


def test_as_dict_gives_json_ready_values_with_the_type_first() -> None:
    dicts = [as_dict(m) for m in every_message()]

    assert [d["type"] for d in dicts] == [m.kind.label for m in every_message()]
    assert all(next(iter(d)) == "type" for d in dicts)
    assert dicts[0]["psi"] == a_state().psi
    assert dicts[3]["state"] == "active"
    assert dicts[8]["members"][1]["status"] == "suspect"
    peer = dicts[2]["peers"][0]
    assert (peer["node"], peer["endpoint"], peer["incarnation"]) == (
        "node-b", "tcp://node-b:6001", 2
    )  # fmt: skip
