"""ENTRO-NET: a network of nodes that share a stability state Ψ over ZeroMQ.

The seed's API is importable from here: ``PsiSync``, ``CollectiveAEW`` and
``NetThreshold``.
"""

from entro_net.api import CollectiveAEW, NetThreshold, PsiSync

__all__ = ["CollectiveAEW", "NetThreshold", "PsiSync"]
__version__ = "0.1.0"
