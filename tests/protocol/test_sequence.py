"""Sequencer and SequenceTracker: numbering, gaps, duplicates, restarts."""

from __future__ import annotations

from entro_net.protocol import MessageType, Sequencer, SequenceTracker, Verdict

S = MessageType.STATE
H = MessageType.HEARTBEAT


def test_sequencer_counts_from_zero_per_message_type() -> None:
    seq = Sequencer()

    states = [seq.next_seq(S) for _ in range(3)]
    heartbeats = [seq.next_seq(H) for _ in range(2)]

    assert states == [0, 1, 2]
    assert heartbeats == [0, 1]


def test_first_message_is_new_then_in_order() -> None:
    tracker = SequenceTracker()

    verdicts = [tracker.observe("a", 1, S, s) for s in (10, 11, 12)]

    assert verdicts == [Verdict.NEW, Verdict.IN_ORDER, Verdict.IN_ORDER]
    assert tracker.missing == 0


def test_gaps_count_every_missed_message() -> None:
    tracker = SequenceTracker()

    verdicts = [tracker.observe("a", 1, S, s) for s in (0, 1, 4, 5, 10)]
    stats = tracker.stats("a")

    assert verdicts.count(Verdict.GAP) == 2
    assert tracker.missing == 2 + 4
    assert stats is not None
    assert (stats.missing, stats.received) == (6, 5)


def test_types_are_numbered_apart_so_filtering_causes_no_gap() -> None:
    tracker = SequenceTracker()

    for s in range(3):
        tracker.observe("a", 1, S, s)
        tracker.observe("a", 1, H, s)

    assert tracker.missing == 0


def test_duplicate_and_older_seq_are_refused() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 1, S, 5)

    duplicate = tracker.observe("a", 1, S, 5)
    older = tracker.observe("a", 1, S, 4)
    stats = tracker.stats("a")

    assert duplicate is Verdict.DUPLICATE and not duplicate.is_accepted
    assert older is Verdict.OUT_OF_ORDER and not older.is_accepted
    assert stats is not None
    assert (stats.duplicates, stats.out_of_order) == (1, 1)


def test_newer_incarnation_is_a_restart_that_resets_the_count() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 1, S, 500)
    tracker.observe("a", 1, H, 20)

    restart = tracker.observe("a", 2, S, 0)
    heartbeat = tracker.observe("a", 2, H, 0)

    assert restart is Verdict.RESTART and restart.is_accepted
    assert heartbeat is Verdict.NEW
    assert tracker.restarts == 1
    assert tracker.missing == 0


def test_older_incarnation_after_a_restart_is_stale() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 2, S, 0)

    verdict = tracker.observe("a", 1, S, 501)

    assert verdict is Verdict.STALE and not verdict.is_accepted


def test_seq_zero_after_a_higher_seq_is_taken_as_a_restart() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 1, S, 40)

    verdict = tracker.observe("a", 1, S, 0)
    following = tracker.observe("a", 1, S, 1)

    assert verdict is Verdict.RESTART
    assert following is Verdict.IN_ORDER


def test_least_recently_heard_sender_is_forgotten_first() -> None:
    tracker = SequenceTracker(max_senders=2)
    tracker.observe("a", 1, S, 0)
    tracker.observe("b", 1, S, 0)
    tracker.observe("a", 1, S, 1)

    tracker.observe("c", 1, S, 0)

    assert tracker.senders() == ("a", "c")
    assert tracker.stats("b") is None


def test_forget_drops_a_sender() -> None:
    tracker = SequenceTracker()
    tracker.observe("a", 1, S, 3)

    tracker.forget("a")
    again = tracker.observe("a", 1, S, 3)

    assert again is Verdict.NEW
