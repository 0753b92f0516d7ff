"""Optional CURVE encryption and authentication for ENTRO-NET's sockets.

Keys on disk (``keys``), which keys a process uses and its socket options
(``curve``), the allow list at work (``zap``) and clear words for failed
handshakes (``handshake``). docs/SECURITY.md tells the whole story.
"""
