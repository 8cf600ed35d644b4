"""Latency digests (edgemon/view/latency_digest.py): what a detached session sends an attached
dashboard instead of its rows. A model fed the digests, through the wire encoding, must hold
exactly what the rows make of it, counted here from the rows themselves."""

from __future__ import annotations

import numpy as np
import pytest

from edgemon.datatypes import Event, EventKind, LatencyBatch, merged_batches
from edgemon.feeds.base import FeedStatus, FeedUpdate
from edgemon.view.histogram import bucket_index, n_slots
from edgemon.view.latency_digest import decode_digest, digest_batch, encode_digest
from edgemon.view.model import DashboardModel

NS = 1_000_000_000
T0 = 1_000 * NS


def _batch(rng, start_s: float, end_s: float, rows: int, *, warmup: bool = False, shuffle: bool = False,
           items: int = 1) -> LatencyBatch:
    t = np.sort(rng.integers(int(T0 + start_s * NS), int(T0 + end_s * NS), rows))
    if shuffle:
        rng.shuffle(t)
    d = rng.integers(20_000, 2_000_000, rows)       # 20 us .. 2 ms: hundreds of histogram slots
    return LatencyBatch.from_lists(t, d, np.full(rows, items), warmup=warmup)


def _batches():
    rng = np.random.default_rng(7)
    return [
        _batch(rng, 0.0, 0.4, 500, warmup=True),
        _batch(rng, 0.5, 0.9, 3000),                    # one second
        _batch(rng, 0.9, 3.2, 4000, items=4),           # four seconds
        _batch(rng, 3.2, 4.7, 2000, shuffle=True),      # out of time order
        _batch(rng, 5.0, 40.0, 7000),                   # 35 seconds: the sparse path, past the window
        _batch(rng, 40.0, 41.0, 1),                     # one row
    ]


def _expected(batches, window_s: float, now_ns: int):
    measured = [b for b in batches if not b.warmup]
    t = np.concatenate([b.t_end_ns for b in measured])
    d = np.concatenate([b.duration_ns for b in measured])
    counts = np.bincount(bucket_index(d), minlength=n_slots())
    recent = t // NS > now_ns // NS - window_s
    window = np.bincount(bucket_index(d[recent]), minlength=n_slots())
    items = {}
    for b in batches:
        for sec, n in zip((b.t_end_ns // NS).tolist(), b.items.tolist()):
            key = (sec, b.warmup)
            items[key] = items.get(key, 0) + n
    return counts, (int(d.size), int(d.sum()), int(d.min()), int(d.max())), window, items


def _feed(model: DashboardModel, update: FeedUpdate, now_ns: int) -> DashboardModel:
    model.apply(update)
    model.observe(FeedStatus(state="running", t_ns=now_ns, elapsed_s=now_ns / NS))
    return model


@pytest.mark.parametrize("how", ["rows", "digests over the wire"])
def test_a_model_fed_digests_holds_what_the_rows_make(how):
    batches = _batches()
    now = T0 + 41 * NS
    hello = [Event(T0 - NS, EventKind.WORKER_HELLO, {}), Event(T0 + 4_800_000_000, EventKind.WORKER_HELLO, {})]
    if how == "rows":
        update = FeedUpdate(latency=batches, events=hello)
    else:
        # as the session process sends them: merged like the rows, one digest per merged batch
        update = FeedUpdate(events=hello, digests=[decode_digest(encode_digest(digest_batch(b)))
                                                   for b in merged_batches(batches)])
    model = _feed(DashboardModel(window_s=10.0, throughput_capacity_s=30), update, now)

    counts, (n, total, lo, hi), window, items = _expected(batches, 10.0, now)
    hist = model.latency_all
    assert (hist.counts == counts).all()
    assert (hist.count, hist.total_ns, hist.min_ns, hist.max_ns) == (n, total, lo, hi)
    assert (model.latency_window.histogram().counts == window).all() and window.sum() > 0
    assert model.iterations == n and model.items == sum(v for (_, w), v in items.items() if not w)
    assert model.warmup_iterations == 500 and model.warmup_items == 500
    last = model.throughput.last_sec
    inside = [(sec, warm) for sec, warm in items if sec > last - 30]    # the 30-s ring
    assert len(inside) > 25
    for sec, warm in inside:
        measured, warmup, valid = model.throughput.window((sec + 1) * NS, 1)
        assert valid[0] and (warmup if warm else measured)[0] == items[(sec, warm)], (sec, warm)
    # two worker runs (the second hello at 4.8 s): each batch joins the run of its first row
    starts = [int((b.t_end_ns - b.duration_ns).min()) for b in batches[1:]]
    ends = [int(b.t_end_ns.max()) for b in batches[1:]]
    assert model._runs == {1: [min(starts[:3]), max(ends[:3])], 2: [min(starts[3:]), max(ends[3:])]}


def test_the_wire_form_gives_back_every_field():
    for batch in _batches():
        g = digest_batch(batch)
        back = decode_digest(encode_digest(g))
        for name in g.__dataclass_fields__:
            a, b = getattr(g, name), getattr(back, name)
            assert (np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b), name
        assert g.rows == len(batch) and int(g.cell_count.sum()) == (0 if batch.warmup else len(batch))
    big = digest_batch(_batches()[4])
    assert big.seconds.size == 35 and len(encode_digest(big)) < 20 * len(_batches()[4])


def test_a_digest_that_does_not_add_up_is_refused():
    good = encode_digest(digest_batch(_batches()[2]))
    with pytest.raises(ValueError, match="corrupt latency digest"):
        decode_digest(good[:-8])                              # shorter than its arrays say
    with pytest.raises(ValueError, match="corrupt latency digest"):
        decode_digest(good[:10])
    g = digest_batch(_batches()[2])
    for field, value in (("cell_slot", n_slots()), ("cell_count", 0), ("cell_second", 9)):
        arr = getattr(g, field).copy()
        arr[0] = value
        bad = encode_digest(type(g)(**{**g.__dict__, field: arr}))
        with pytest.raises(ValueError, match="do not add up"):
            decode_digest(bad)
    with pytest.raises(ValueError):
        digest_batch(LatencyBatch.from_lists([], [], []))


def test_rows_far_apart_cost_memory_by_the_rows_not_the_span():
    """Two rows a billion seconds apart (a clock gone wrong) are two seconds of digest, not a
    search over every second between them."""
    batch = LatencyBatch.from_lists([T0, T0 + 10**9 * NS], [50_000, 60_000], [1, 2])
    g = digest_batch(batch)
    assert g.seconds.tolist() == [T0 // NS, T0 // NS + 10**9] and g.second_items.tolist() == [1, 2]
    model = DashboardModel(throughput_capacity_s=30)
    model.apply(FeedUpdate(latency=[batch]))
    assert model.iterations == 2 and model.throughput.last_sec == T0 // NS + 10**9
