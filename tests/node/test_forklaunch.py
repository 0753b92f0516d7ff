"""The fork launcher survives a pre-forked node that dies before its start."""

import os
import signal
from pathlib import Path

from entro_net.node.forklaunch import prefork


def test_a_preforked_node_killed_before_its_start_is_reported_not_raised(
    tmp_path: Path,
) -> None:
    (node,) = prefork(1)
    try:
        os.kill(node.pid, signal.SIGKILL)
        node.wait(timeout=10)
        node.start(["node", "--help"], tmp_path / "node.log")
        assert node.poll() == -signal.SIGKILL
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=10)
