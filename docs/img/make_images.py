"""Make the README's pictures from real runs on this machine.

    pip install -e '.[docs]'   # cairosvg, for the live view's SVG -> PNG
    python docs/img/make_images.py

1. A recorded lockstep run (5 plant nodes, resilient law, node-2 faulty from
   step 150) drawn by `entro-net report`: report-psi.png, report-var.png,
   report-isolation.png.
2. The live view: a free-clock network (node-2 faulty, node-4 killed with
   SIGKILL) seen by `entro-net watch --save-svg`, converted to live-view.png.

Every process it starts is stopped by PID.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
COMMAND = [sys.executable, "-m", "entro_net"]
MADE = (
    "report-psi.png",
    "report-var.png",
    "report-isolation.png",
    "live-view.png",
)


def report_images(tmp: Path) -> None:
    record = tmp / "run.rec"
    subprocess.run(
        [*COMMAND, "up", "--nodes", "5", "--clock", "lockstep", "--steps", "400",
         "--source", "plant", "--law", "resilient", "--fault", "2:150:2.0",
         "--record", str(record), "--port", "0", "--plain"],
        check=True, stdout=subprocess.DEVNULL, timeout=300,
    )  # fmt: skip
    subprocess.run(
        [*COMMAND, "report", str(record), "--out", str(tmp / "report")],
        check=True, stdout=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    for name in ("psi", "var", "isolation"):
        shutil.copy(tmp / "report" / f"{name}.png", HERE / f"report-{name}.png")


def wait_for_json(path: Path, timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            data: dict[str, object] = json.loads(path.read_text())
            return data
        time.sleep(0.1)
    raise SystemExit(f"{path} did not appear")


def local_font(svg: str) -> str:
    """rich's SVG names a web font; draw with the local monospace one instead."""
    svg = re.sub(r"@font-face\s*\{[^}]*\}", "", svg)
    return svg.replace("Fira Code, monospace", "DejaVu Sans Mono")


def live_view_image(tmp: Path) -> None:
    import cairosvg

    ready = tmp / "ready.json"
    up = subprocess.Popen(
        [*COMMAND, "up", "--nodes", "5", "--rate", "10", "--source", "plant",
         "--law", "resilient", "--fault", "2:40:2.0", "--port", "0",
         "--ready-file", str(ready), "--plain"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        control = str(wait_for_json(ready, 30.0)["control"])
        subprocess.run(  # the network has started once θ_net is published
            [*COMMAND, "sniff", "--coordinator", control, "--type", "threshold",
             "--count", "1", "--duration", "90"],
            check=True, stdout=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
        time.sleep(5.0)  # node-2 turns faulty at step 40 (4 s at 10 Hz)
        for child in psutil.Process(up.pid).children():
            if "node-4" in child.cmdline():
                child.send_signal(signal.SIGKILL)
        svg = tmp / "live.svg"
        subprocess.run(
            [*COMMAND, "watch", "--coordinator", control, "--duration", "7",
             "--save-svg", str(svg)],
            check=True, stdout=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        cairosvg.svg2png(
            bytestring=local_font(svg.read_text()).encode(),
            write_to=str(HERE / "live-view.png"),
        )
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=20)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="entro-net-img-") as name:
        tmp = Path(name)
        report_images(tmp)
        live_view_image(tmp)
    for name in MADE:
        path = HERE / name
        print(f"{path.relative_to(HERE.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
