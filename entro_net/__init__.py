"""ENTRO-NET: a network of nodes that share a stability state Ψ over ZeroMQ.

The seed's API is importable from here: ``PsiSync``, ``CollectiveAEW`` and
``NetThreshold``. They load on first use, so a process that only needs a
part of the package (the command line, a node) does not pay for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entro_net.api import CollectiveAEW, NetThreshold, PsiSync

__all__ = ["CollectiveAEW", "NetThreshold", "PsiSync"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from entro_net import api

        return getattr(api, name)
    raise AttributeError(f"module 'entro_net' has no attribute {name!r}")
