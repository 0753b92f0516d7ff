"""ENTRO-NET's wire protocol, sans-IO: messages, codec, checks, counters.

No sockets, no clock, no logging here: frames and times come in as
arguments, messages and verdicts go out as return values. See
docs/PROTOCOL.md for the byte-level description.
"""

from entro_net.protocol.codec import (
    STATE_FIELDS,
    DropReason,
    decode,
    encode,
    peek_type,
)
from entro_net.protocol.decoder import Decoder
from entro_net.protocol.identity import SenderBinding, is_from
from entro_net.protocol.messages import (
    CONTROL_TYPES,
    ControlMessage,
    Heartbeat,
    Hello,
    Isolate,
    Leave,
    Member,
    Membership,
    MemberStatus,
    Message,
    MessageType,
    NodeState,
    PeerInfo,
    Readmit,
    State,
    Threshold,
    Welcome,
    as_dict,
    is_valid_endpoint,
    is_valid_node_id,
)
from entro_net.protocol.ratelimit import FloodGuard, WarnLimiter
from entro_net.protocol.sequence import (
    SenderStats,
    Sequencer,
    SequenceTracker,
    Verdict,
)

__all__ = [
    "CONTROL_TYPES",
    "STATE_FIELDS",
    "ControlMessage",
    "Decoder",
    "DropReason",
    "FloodGuard",
    "Heartbeat",
    "Hello",
    "Isolate",
    "Leave",
    "Member",
    "MemberStatus",
    "Membership",
    "Message",
    "MessageType",
    "NodeState",
    "PeerInfo",
    "Readmit",
    "SenderBinding",
    "SenderStats",
    "SequenceTracker",
    "Sequencer",
    "State",
    "Threshold",
    "Verdict",
    "WarnLimiter",
    "Welcome",
    "as_dict",
    "decode",
    "encode",
    "is_from",
    "is_valid_endpoint",
    "is_valid_node_id",
    "peek_type",
]
