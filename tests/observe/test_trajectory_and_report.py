"""Reading a recording into per-node series, and drawing its report."""

from __future__ import annotations

import json
from pathlib import Path

from entro_net.config import Clock
from entro_net.observe.record import meta_path
from entro_net.observe.report import write_report
from entro_net.observe.trajectory import load_run
from entro_net.protocol import Message, encode
from entro_net.recording import RecordWriter
from tests.observe.messages import isolate, readmit, state, threshold

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_recording(path: Path, messages: list[Message], clock: Clock) -> None:
    writer = RecordWriter(path, max_bytes=1 << 20, keep=2)
    for i, msg in enumerate(messages):
        writer.append(100.0 + i, encode(msg))
    writer.append(200.0, b"not a message")
    writer.close()
    meta_path(path).write_text(
        json.dumps({"clock": clock.value, "model": {"psi_critical": 0.9}})
    )


def a_run() -> list[Message]:
    messages: list[Message] = []
    for step in range(5):
        messages.append(state("a", step, psi=10.0 + step, raw=20.0 + step))
        messages.append(state("b", step, psi=30.0 + step, raw=40.0 + step))
        messages.append(threshold(step + 1, var=step / 10))
    messages.append(state("a", 4, psi=14.0, raw=24.0))  # the same seq again
    messages.append(isolate("b", 2, epoch=1, seq=0))
    messages.append(readmit("b", 4, epoch=2, seq=1))
    return messages


def test_free_clock_states_carry_their_own_steps_values(tmp_path: Path) -> None:
    path = tmp_path / "run.rec"
    write_recording(path, a_run(), Clock.FREE)

    run = load_run(path)

    assert run.clock is Clock.FREE
    assert run.nodes["a"].psi == {k: 10.0 + k for k in range(5)}
    assert run.nodes["a"].psi_raw == {k: 20.0 + k for k in range(5)}
    assert run.nodes["a"].states == 5  # the repeat is not counted
    assert run.network.var == {k: k / 10 for k in range(5)}
    assert run.network.theta_net[5] == 1.4 + 0.4
    assert run.undecodable == 1
    assert run.records == len(a_run()) + 1
    assert run.psi_critical == 0.9


def test_lockstep_states_carry_the_previous_steps_synced_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.rec"
    write_recording(path, a_run(), Clock.LOCKSTEP)

    run = load_run(path)

    # state k: raw of step k, Ψ of step k-1; the first state's Ψ is no step's
    assert run.nodes["a"].psi == {k - 1: 10.0 + k for k in range(1, 5)}
    assert run.nodes["a"].psi_raw == {k: 20.0 + k for k in range(5)}


def test_isolation_spans_follow_the_decisions_epochs(tmp_path: Path) -> None:
    path = tmp_path / "run.rec"
    write_recording(
        path,
        [*a_run(), isolate("a", 3, epoch=3, seq=2)],
        Clock.FREE,
    )

    run = load_run(path)

    assert run.isolation_spans("b") == [(2, 4)]
    assert run.isolation_spans("a") == [(3, None)]
    assert [(d.node, d.kind, d.epoch) for d in run.decisions] == [
        ("b", "isolate", 1),
        ("b", "readmit", 2),
        ("a", "isolate", 3),
    ]


def test_the_report_draws_three_pngs_and_a_json_of_facts(tmp_path: Path) -> None:
    path = tmp_path / "run.rec"
    write_recording(path, a_run(), Clock.FREE)

    files = write_report(load_run(path), tmp_path / "out")

    names = sorted(f.name for f in files)
    assert names == ["isolation.png", "psi.png", "report.json", "var.png"]
    for f in files:
        if f.suffix == ".png":
            assert f.read_bytes()[:8] == PNG_MAGIC
            assert 5_000 < f.stat().st_size < 300_000
    facts = json.loads((tmp_path / "out" / "report.json").read_text())
    assert facts["steps"] == 5
    assert facts["nodes"]["b"]["last_psi"] == 34.0
    assert facts["isolations"][0] == {
        "node": "b",
        "step": 2,
        "epoch": 1,
        "kind": "isolate",
    }
