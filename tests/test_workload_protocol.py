"""The runner wire protocol round-trips through real pipes and bytes, torn frames included."""

from __future__ import annotations

import io
import os
import threading
from array import array

import numpy as np
import pytest

from edgemon.workload import registry

proto = registry.protocol()


def _write_session(buf):
    w = proto.FrameWriter(buf)
    w.hello({"runner": "numpy", "model": "mnist_1d", "inputs": [{"name": "x", "shape": [1, 784]}]})
    w.latency(array("q", [10, 20, 30]), array("q", [1, 2, 3]), array("i", [1, 1, 4]), warmup=True)
    w.latency(array("q", [40]), array("q", [2**40]), array("i", [-1]))
    w.latency(array("q"), array("q"), array("i"))  # empty: no frame at all
    w.event("warmup_done", iterations=3, first_inference_ms=1.5)
    w.bye("stopped", iterations=4)


def test_round_trip_all_frame_types():
    buf = io.BytesIO()
    _write_session(buf)
    frames = list(proto.FrameReader(io.BytesIO(buf.getvalue())))
    assert [f[0] for f in frames] == [proto.HELLO, proto.LATENCY, proto.LATENCY, proto.EVENT, proto.BYE]
    assert frames[0][1]["inputs"][0]["shape"] == [1, 784]
    t_end, dur, items, warm = proto.decode_latency(frames[1][1])
    assert (list(t_end), list(dur), list(items), warm) == ([10, 20, 30], [1, 2, 3], [1, 1, 4], True)
    t_end, dur, items, warm = proto.decode_latency(frames[2][1])
    assert (list(t_end), list(dur), list(items), warm) == ([40], [2**40], [-1], False)
    assert frames[3][1]["kind"] == "warmup_done" and isinstance(frames[3][1]["t_ns"], int)
    assert frames[4][1] == {"reason": "stopped", "iterations": 4}


@pytest.mark.parametrize("cut", [1, 3, 5, 8, -1])
def test_torn_frame_ends_the_stream_cleanly(cut):
    buf = io.BytesIO()
    _write_session(buf)
    whole = buf.getvalue()
    first_two = list(proto.FrameReader(io.BytesIO(whole)))[:2]
    # find where the second frame ends, then cut inside the third
    size_hello = proto.HEADER.size + proto.HEADER.unpack_from(whole, 0)[1]
    size_lat = proto.HEADER.size + proto.HEADER.unpack_from(whole, size_hello)[1]
    third_at = size_hello + size_lat
    third_len = proto.HEADER.size + proto.HEADER.unpack_from(whole, third_at)[1]
    end = third_at + (cut if cut > 0 else third_len - 1)
    frames = list(proto.FrameReader(io.BytesIO(whole[:end])))
    assert [f[0] for f in frames] == [f[0] for f in first_two]


def test_garbage_is_reported_not_misread():
    with pytest.raises(ValueError, match="corrupt frame"):
        list(proto.FrameReader(io.BytesIO(b"\x09\x00\x00\x00\x00junk")))


def test_frames_cross_a_real_pipe_in_small_reads():
    r, w = os.pipe()
    received = []

    def read():
        with os.fdopen(r, "rb", buffering=0) as stream:  # raw reads may return short counts
            received.extend(proto.FrameReader(stream))

    t = threading.Thread(target=read)
    t.start()
    with os.fdopen(w, "wb") as stream:
        writer = proto.FrameWriter(stream)
        big = array("q", range(200_000))  # 1.6 MB per column: larger than the pipe buffer
        writer.latency(big, big, array("i", [1]) * len(big))
        writer.bye("done", iterations=len(big))
    t.join(10)
    assert [f[0] for f in received] == [proto.LATENCY, proto.BYE]
    t_end, _, items, _ = proto.decode_latency(received[0][1])
    assert t_end == big and len(items) == len(big)


def test_pause_after_a_read_is_the_pace_for_a_slow_writer_and_short_or_none_for_a_fast_one():
    reader = proto.FrameReader(io.BytesIO(), pace_s=0.25, chunk=1 << 18)
    # the default workload: ~16,000 rows/s of 20 bytes, 80 KB a pace: the whole pace
    assert reader._pause_after(80_000, 0.25) == 0.25
    # a loop of millions of rows a second: half a chunk's worth at its rate, well under the pace
    assert reader._pause_after(200_000, 0.004) == pytest.approx(0.5 * (1 << 18) / 50e6)
    # a read that filled the whole chunk: more is waiting, read again at once
    assert reader._pause_after(1 << 18, 0.25) == 0.0
    # a short read right after (the reader woke at a big write's first bytes): still the fast rate
    assert reader._pause_after(4096, 0.001) < 0.01
    # the writer slowed down (paused): the remembered rate fades, back to the whole pace in seconds
    assert reader._pause_after(4096, 1.0) < 0.25
    for _ in range(10):
        last = reader._pause_after(4096, 1.0)
    assert last == 0.25
    assert proto.FrameReader(io.BytesIO(), pace_s=0.0)._pause_after(10, 1.0) == 0.0


class _PauseLog(proto.FrameReader):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.pauses = []

    def _pause_after(self, nbytes, since_last_read_s):
        pause = super()._pause_after(nbytes, since_last_read_s)
        self.pauses.append(pause)
        return pause


def test_a_paced_reader_does_not_sleep_while_a_fast_writer_fills_the_pipe():
    """A writer of many frames in a row (a tight loop under edgemon_probe) must not wait on a
    full pipe while the reader sleeps a whole pace after each read."""
    r, w = os.pipe()
    frames = 64
    reader = None
    received = []

    def read():
        nonlocal reader
        with os.fdopen(r, "rb") as stream:
            reader = _PauseLog(stream, pace_s=0.25, chunk=1 << 16)
            received.extend(reader)

    t = threading.Thread(target=read)
    t.start()
    with os.fdopen(w, "wb") as stream:
        writer = proto.FrameWriter(stream)
        rows = array("q", range(20_000))         # 400 KB a frame: several chunks, more than a 64 KiB pipe
        for _ in range(frames):
            writer.latency(rows, rows, array("i", [1]) * len(rows))
    t.join(60)
    assert len(received) == frames
    assert len(reader.pauses) > frames           # every frame took several reads
    # After the first read (no rate known yet), less than one pace in all (the old reader slept
    # 0.25 s after every read: > 100 s here).
    assert sum(reader.pauses[1:]) < 0.25, sorted(reader.pauses)[-5:]


def test_control_reads_commands_and_eof_means_stop():
    r, w = os.pipe()
    reader = os.fdopen(r, "r")
    ctrl = proto.Control(reader)
    with os.fdopen(w, "w") as out:
        out.write('{"cmd": "pause"}\nnot json\n{"cmd": "set_rate", "rate": 5}\n')
        out.flush()
        for _ in range(2000):  # the control thread applies commands asynchronously
            if ctrl.paused and ctrl.rate == 5.0:
                break
            threading.Event().wait(0.005)
        assert ctrl.paused and ctrl.rate == 5.0 and not ctrl.stopped
    # writer closed: EOF -> stop, and a paused loop is released
    ctrl._resume.wait(10)
    assert ctrl.stopped


@pytest.mark.parametrize("with_numpy", [True, False], ids=["numpy", "stdlib"])
def test_latency_in_float_seconds_decodes_to_nanoseconds(monkeypatch, with_numpy):
    # Python 3.6 has no monotonic_ns: edgemon_probe sends float64 seconds (flag bit 1) rather
    # than convert every row itself; the monitor turns them into int64 ns, rounded.
    import builtins
    import struct

    if not with_numpy:
        real_import = builtins.__import__

        def no_numpy(name, *args, **kw):
            if name == "numpy":
                raise ImportError("no numpy here")
            return real_import(name, *args, **kw)

        monkeypatch.setattr(builtins, "__import__", no_numpy)
    buf = io.BytesIO()
    w = proto.FrameWriter(buf)
    t_end = [12345.678901234, 12345.679901234]
    dur = [0.000250000, 0.0015]
    w.latency_packed(2, struct.pack("<2d", *t_end), struct.pack("<2d", *dur), struct.pack("<2i", 8, 8),
                     warmup=True, seconds=True)
    ((ftype, payload),) = list(proto.FrameReader(io.BytesIO(buf.getvalue())))
    got_end, got_dur, items, warm = proto.decode_latency(payload)
    assert ftype == proto.LATENCY and warm is True and list(items) == [8, 8]
    assert list(got_dur) == [250_000, 1_500_000]
    assert list(got_end) == [round(t * 1e9) for t in t_end]
    assert got_end.typecode == got_dur.typecode == "q"


def test_the_monitor_decodes_frames_as_the_protocol_does():
    # The worker decodes LATENCY frames itself (numpy views of the frame's bytes, no copy);
    # it must give what runners/_protocol.py's decoder gives, for ns and float-seconds frames.
    import struct

    from edgemon.workload.worker import decode_latency

    buf = io.BytesIO()
    w = proto.FrameWriter(buf)
    w.latency(array("q", [1_000, 2_000_000_007]), array("q", [500, 1_250]), array("i", [1, 4]))
    w.latency_packed(2, struct.pack("<2d", 12345.678901234, 12345.679901234), struct.pack("<2d", 0.00025, 0.0015),
                     struct.pack("<2i", 8, 8), warmup=True, seconds=True)
    w.latency(array("q"), array("q"), array("i"))        # an empty batch is no frame at all
    frames = [p for t, p in proto.FrameReader(io.BytesIO(buf.getvalue())) if t == proto.LATENCY]
    assert len(frames) == 2
    for payload in frames:
        t_end, dur, items, warm = proto.decode_latency(payload)
        batch = decode_latency(proto, payload)
        assert batch.t_end_ns.dtype == np.int64 and batch.duration_ns.dtype == np.int64
        assert list(batch.t_end_ns) == list(t_end) and list(batch.duration_ns) == list(dur)
        assert list(batch.items) == list(items) and batch.warmup is warm
    with pytest.raises(ValueError):
        decode_latency(proto, frames[0][:-1])          # a frame shorter than its row count says


def test_reads_hands_over_the_frames_of_each_read_together():
    buf = io.BytesIO()
    _write_session(buf)
    whole = buf.getvalue()
    size_hello = proto.HEADER.size + proto.HEADER.unpack_from(whole, 0)[1]

    class TwoReads(io.BytesIO):  # the hello alone, then everything else in one read
        def read1(self, n=-1):
            return super().read1(size_hello if self.tell() == 0 else n)

    reads = list(proto.FrameReader(TwoReads(whole)).reads())
    assert [[t for t, _ in frames] for frames in reads] == [
        [proto.HELLO], [proto.LATENCY, proto.LATENCY, proto.EVENT, proto.BYE]]
    assert [f for frames in reads for f in frames] == list(proto.FrameReader(io.BytesIO(whole)))


def test_reads_gives_the_frames_before_a_corrupt_one_then_raises():
    buf = io.BytesIO()
    _write_session(buf)
    got = []
    with pytest.raises(ValueError, match="corrupt frame"):
        for frames in proto.FrameReader(io.BytesIO(buf.getvalue() + b"\x09\x00\x00\x00\x00junk")).reads():
            got.append([t for t, _ in frames])
    assert got == [[proto.HELLO, proto.LATENCY, proto.LATENCY, proto.EVENT, proto.BYE]]
