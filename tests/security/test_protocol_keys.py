"""Members and peers carry their CURVE key in secure networks, nothing otherwise."""

from __future__ import annotations

import msgpack
import pytest
import zmq

from entro_net.protocol import (
    Member,
    Membership,
    MemberStatus,
    PeerInfo,
    Welcome,
    decode,
    encode,
)
from entro_net.protocol.codec import DropReason
from entro_net.protocol.decoder import Decoder

KEY = zmq.curve_keypair()[0].decode()


def _membership(key: str | None) -> Membership:
    member = Member(
        node="node-0",
        endpoint="tcp://127.0.0.1:20000",
        incarnation=1,
        status=MemberStatus.ALIVE,
        index=0,
        since=0,
        key=key,
    )
    return Membership(
        node="coordinator", incarnation=1, seq=0, ts=0.0, members=(member,)
    )


def test_a_members_key_goes_over_the_wire_and_back() -> None:
    decoded = decode(encode(_membership(KEY)))

    assert isinstance(decoded, Membership)
    assert decoded.members[0].key == KEY


def test_a_plaintext_membership_has_no_key_field_at_all() -> None:
    body = msgpack.unpackb(encode(_membership(None))[1:])

    assert "key" not in body["members"][0]
    assert set(body["members"][0]) == {
        "node",
        "endpoint",
        "incarnation",
        "status",
        "index",
        "since",
    }


def test_a_welcome_lists_each_peers_key() -> None:
    peer = PeerInfo(node="node-1", endpoint="tcp://h:2", incarnation=3, key=KEY)
    welcome = Welcome(
        node="coordinator",
        incarnation=1,
        seq=0,
        ts=0.0,
        step=0,
        theta_net=1.4,
        isolated=(),
        epoch=0,
        peers=(peer,),
    )

    decoded = decode(encode(welcome))

    assert isinstance(decoded, Welcome)
    assert decoded.peers[0].key == KEY


@pytest.mark.parametrize("bad", ["short", KEY[:-1] + "~", KEY + "x"])
def test_a_malformed_key_is_a_schema_drop(bad: str) -> None:
    body = msgpack.unpackb(encode(_membership(KEY))[1:])
    body["members"][0]["key"] = bad
    frame = b"M" + msgpack.packb(body)
    decoder = Decoder()

    assert decoder.feed(frame) is None
    assert decoder.last_drop == DropReason.SCHEMA
