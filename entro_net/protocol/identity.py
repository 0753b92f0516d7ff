"""Checking that a message's claimed sender matches the connection it came on.

The ``node`` field of a message is only a claim. Where the transport tells
connections apart (a ROUTER's routing id, a SUB socket dialled to one known
peer), these helpers refuse a message that speaks for another node.
Limitation: without CURVE keys a process can still claim a fresh node id,
or take over an id with a hello of an equal or newer incarnation; this
catches mix-ups and stray processes, not a determined impostor.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from entro_net.config import MAX_TRACKED_SENDERS
from entro_net.protocol.messages import Hello, Message


def is_from(msg: Message, node: str) -> bool:
    """Whether ``msg`` claims to come from ``node`` (the peer this link dials)."""
    return msg.node == node


class SenderBinding:
    """Remembers which node id each connection speaks for.

    The first message on a connection binds it to its ``node``. After that,
    a message on that connection for another node is refused, and so is a
    message for a bound node on a different connection, unless it is a
    hello whose incarnation is at least the bound one, or any message of a
    newer incarnation (the node restarted or reconnected), which moves the
    binding to the new connection.
    """

    def __init__(self, max_connections: int = MAX_TRACKED_SENDERS) -> None:
        self.max_connections = max_connections
        self._node_of: OrderedDict[Hashable, str] = OrderedDict()
        self._conn_of: dict[str, tuple[Hashable, int]] = {}

    def check(self, conn: Hashable, msg: Message) -> bool:
        """Whether ``msg`` may have come on ``conn``; binds or rebinds as above."""
        bound_node = self._node_of.get(conn)
        if bound_node is not None:
            if bound_node != msg.node:
                return False
            self._node_of.move_to_end(conn)
            _, bound_incarnation = self._conn_of.get(bound_node, (conn, 0))
            if msg.incarnation > bound_incarnation:
                self._conn_of[bound_node] = (conn, msg.incarnation)
            return True

        owner = self._conn_of.get(msg.node)
        if owner is not None:
            # A hello, or anything from a newer incarnation (a restarted node
            # whose hello was lost before its link was up), moves the binding.
            is_takeover = msg.incarnation > owner[1] or (
                isinstance(msg, Hello) and msg.incarnation >= owner[1]
            )
            if not is_takeover:
                return False
            self._node_of.pop(owner[0], None)
        self._bind(conn, msg.node, msg.incarnation)
        return True

    def node_of(self, conn: Hashable) -> str | None:
        """The node ``conn`` is bound to, if any."""
        return self._node_of.get(conn)

    def forget(self, conn: Hashable) -> None:
        """Unbind ``conn`` (its node left or its connection closed)."""
        node = self._node_of.pop(conn, None)
        if node is not None and self._conn_of.get(node, (None, 0))[0] == conn:
            del self._conn_of[node]

    def _bind(self, conn: Hashable, node: str, incarnation: int) -> None:
        self._node_of[conn] = node
        self._conn_of[node] = (conn, incarnation)
        if len(self._node_of) > self.max_connections:
            old_conn, old_node = self._node_of.popitem(last=False)
            if self._conn_of.get(old_node, (None, 0))[0] == old_conn:
                del self._conn_of[old_node]
