"""The latency stream of a recording as pieces read on demand, never as one table.

A 3-hour session at 16,000 inferences/s holds 170 million latency rows (3.5 GB as numpy
arrays): whatever reads them goes piece by piece. A *piece* is one Parquet row group
(about a million rows, the writer's ``ROW_GROUP_ROWS``) or one live tail (``.arrows``, at
most one segment of rows). The index of pieces comes from the Parquet footers: row counts
and the min/max statistics of ``t_end_ns`` and ``duration_ns``, so choosing the pieces of a
time range reads no data. :meth:`LatencyChunks.read` gives a piece's columns as numpy
arrays; :meth:`LatencyChunks.scan` reads them in time order, the next piece decoded on a
second thread while the caller works on the current one (pyarrow and numpy release the
GIL, so a pass uses both cores of a small board).

Inconsistent files are named in ``problems`` and kept out: a file that is not an edgemon
latency segment, a segment whose rows duplicate another one's (a copied part file). Rows no
recording of ours can hold (a time outside 0..100 years, a latency over a day, a bad item
count: a corrupt or forged file) are left out of every read of their piece, and counted in
``problems``; such a piece's statistics are those of the rows kept (found when indexing, by
reading it once: only pieces whose footer statistics allow such rows are read). A negative
duration is kept: the analysis counts those rows itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from edgemon.recording.layout import MAX_ITEMS, MAX_LATENCY_NS, MAX_T_NS, SEGMENT_SUFFIX, TAIL_SUFFIX, sorted_files

COLUMNS = ("t_end_ns", "duration_ns", "items", "warmup")
_DTYPES = {"t_end_ns": np.int64, "duration_ns": np.int64, "items": np.int32, "warmup": bool}
_INTEGER = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


@dataclass
class Piece:
    """One readable unit: a Parquet row group, or a whole tail held in memory."""

    name: str                      # "latency/part-00003.parquet#2" (for problems and tests)
    path: Path
    row_group: int                 # -1 for a tail
    rows: int
    t_min: int | None              # t_end_ns statistics (None: unknown until read)
    t_max: int | None
    d_min: int | None = None       # duration_ns statistics
    d_max: int | None = None
    any_warm: bool | None = None   # warmup statistics: a warm-up row in it (None: unknown)
    items_each: int | None = None  # items statistics: every row has this many (None: they differ)
    arrays: dict[str, np.ndarray] | None = None   # a tail's rows (read when indexed)
    filtered: bool = False         # rows with impossible values are left out on every read


@dataclass
class Chunk:
    """A piece's rows: ``t`` (t_end_ns int64), ``dur`` (int64), ``items`` (int32), ``warm`` (bool).

    A read of some columns only (``LatencyChunks.read(columns=...)``) leaves the others None."""

    piece: Piece
    t: np.ndarray | None
    dur: np.ndarray | None
    items: np.ndarray | None
    warm: np.ndarray | None

    def __len__(self) -> int:
        for a in (self.t, self.dur, self.items, self.warm):
            if a is not None:
                return int(a.shape[0])
        return 0


@dataclass
class LatencyChunks:
    """The latency pieces of a recording, sorted by ``t_min``; see the module docstring."""

    pieces: list[Piece]
    problems: list[str] = field(default_factory=list)
    cache_pieces: int = 4
    _cache: "OrderedDict[tuple[str, int, tuple[str, ...]], Chunk]" = field(default_factory=OrderedDict)
    _files: "OrderedDict[tuple[int, str], Any]" = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.pieces)

    @property
    def t_min(self) -> int | None:
        known = [p.t_min for p in self.pieces if p.t_min is not None]
        return min(known) if known else None

    @property
    def t_max(self) -> int | None:
        known = [p.t_max for p in self.pieces if p.t_max is not None]
        return max(known) if known else None

    def overlapping(self, lo: int | None = None, hi: int | None = None) -> list[Piece]:
        """Pieces that may hold a row with ``lo <= t_end_ns <= hi`` (None: unbounded)."""
        out = []
        for p in self.pieces:
            if p.rows == 0:
                continue
            if lo is not None and p.t_max is not None and p.t_max < lo:
                continue
            if hi is not None and p.t_min is not None and p.t_min > hi:
                continue
            out.append(p)
        return out

    # ----------------------------------------------------------------- reading

    def read(self, piece: Piece, *, cache: bool = False, columns: Sequence[str] = COLUMNS) -> Chunk:
        """The rows of ``piece`` (``cache``: keep the last :attr:`cache_pieces` decoded, for replay;
        ``columns``: decode only these, the others are None)."""
        columns = tuple(columns)
        key = (str(piece.path), piece.row_group, columns)
        if cache:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
        if piece.arrays is not None:
            a = piece.arrays
            chunk = Chunk(piece, *(a[c] if c in columns else None for c in COLUMNS))
        else:
            chunk = self._read_row_group(piece, columns)
        if cache:
            with self._lock:
                self._cache[key] = chunk
                while len(self._cache) > self.cache_pieces:
                    self._cache.popitem(last=False)
        return chunk

    def _parquet(self, path: Path):
        import pyarrow.parquet as pq

        key = (threading.get_ident(), str(path))      # one reader object per thread
        with self._lock:
            f = self._files.get(key)
            if f is not None:
                self._files.move_to_end(key)
                return f
        from edgemon.recording.safe_io import regular_file_path

        # no pre-buffering: it keeps whole column chunks in memory beside the decoded ones; opened
        # as a regular file (no link, no FIFO), the reader keeps its own handle
        with regular_file_path(path) as own:
            f = pq.ParquetFile(own, pre_buffer=False)
        with self._lock:
            self._files[key] = f
            while len(self._files) > 8:
                self._files.popitem(last=False)
        return f

    def _read_row_group(self, piece: Piece, columns: Sequence[str] = COLUMNS) -> Chunk:
        raw = self._raw_columns(piece, [c for c in COLUMNS if c in columns or (piece.filtered and c in _CHECKED)])
        keep = _plausible(raw) if piece.filtered else None
        cols = {name: (np.asarray(raw[name] if keep is None else raw[name][keep], dtype=_DTYPES[name])
                       if name in columns else None) for name in COLUMNS}
        return Chunk(piece, cols["t_end_ns"], cols["duration_ns"], cols["items"], cols["warmup"])

    def _raw_columns(self, piece: Piece, names: list[str]) -> dict[str, np.ndarray]:
        """A row group's columns as numpy arrays of their file's types."""
        # one thread per read: scan() already decodes the next piece while the caller works, and
        # the column threads would double the decode buffers in memory
        table = self._parquet(piece.path).read_row_group(piece.row_group, columns=names, use_threads=False)
        raw: dict[str, np.ndarray] = {}
        for name in names:
            col = table.column(name)
            if col.null_count:
                raise ValueError(f"{piece.name}: {name} has {col.null_count} missing values")
            raw[name] = col.to_numpy()
        return raw

    def _leave_out_impossible(self, piece: Piece) -> None:
        """Read a piece whose statistics allow impossible rows; when it has some, read it filtered
        from now on, with the statistics of the rows kept."""
        try:
            raw = self._raw_columns(piece, list(_CHECKED))
        except Exception:  # noqa: BLE001 - unreadable: scan() names it when it gets there
            return
        keep = _plausible(raw)
        if keep is None:
            return
        dropped = int(keep.shape[0] - np.count_nonzero(keep))
        self.problems.append(f"{piece.name}: {dropped} row(s) with impossible values (a time outside 0..100 "
                             "years, a latency over a day, a bad item count) left out")
        piece.filtered = True
        _set_statistics(piece, *(raw[c][keep] for c in _CHECKED))

    def scan(self, pieces: Sequence[Piece] | None = None, *, prefetch: bool = True,
             columns: Callable[[Piece], Sequence[str]] | None = None,
             prepare: Callable[[Chunk], Any] | None = None, workers: int = 1) -> Iterator[Any]:
        """The chunks of ``pieces`` (default: all) in order, the next ones decoded while the
        current one is used.

        ``prepare(chunk)``: work done on the reading threads too (numpy and pyarrow release the
        interpreter lock, so it runs beside the caller's work); then its results are yielded,
        still in piece order, instead of the chunks. ``workers``: reading threads (with more than
        one, ``prepare`` must not change shared state). A piece that cannot be read (a file
        removed or damaged since the index was made) is named in :attr:`problems` once and
        skipped.
        """
        todo = list(self.pieces if pieces is None else pieces)
        cols = columns or (lambda p: COLUMNS)

        def job(p: Piece) -> Any:
            chunk = self.try_read(p, columns=cols(p))
            return chunk if chunk is None or prepare is None else prepare(chunk)

        if not prefetch or len(todo) < 2:
            for p in todo:
                got = job(p)
                if got is not None:
                    yield got
            return
        workers = max(1, int(workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edgemon-latency-read") as pool:
            pending = [pool.submit(job, p) for p in todo[:workers]]
            for k in range(len(todo)):
                got = pending.pop(0).result()
                if k + workers < len(todo):
                    pending.append(pool.submit(job, todo[k + workers]))
                if got is not None:
                    yield got

    def try_read(self, piece: Piece, *, cache: bool = False, columns: Sequence[str] = COLUMNS) -> Chunk | None:
        """:meth:`read`, or None for a piece that cannot be read (named in :attr:`problems` once)."""
        try:
            return self.read(piece, cache=cache, columns=columns)
        except Exception as e:  # noqa: BLE001 - a damaged piece: say so, go on
            msg = f"{piece.name}: unreadable ({' '.join(str(e).split())[:200]}); skipped"
            with self._lock:
                if msg not in self.problems:
                    self.problems.append(msg)
            return None

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._files.clear()


# --------------------------------------------------------------------- building the index


def _stat(stats, want_min: bool) -> int | None:
    if stats is None or not stats.has_min_max:
        return None
    try:
        v = stats.min if want_min else stats.max
        return int(v)
    except (TypeError, ValueError):
        return None


_CHECKED = ("t_end_ns", "duration_ns", "items")
_BOUNDS = {"t_end_ns": (0, MAX_T_NS), "duration_ns": (None, MAX_LATENCY_NS), "items": (0, MAX_ITEMS)}


def _plausible(cols: dict[str, np.ndarray]) -> np.ndarray | None:
    """Rows whose time, duration and item count a recording of ours can hold; None: all of them.
    (Raw column values: before the cast that would wrap an absurd item count.)"""
    keep = None
    for name, (lo, hi) in _BOUNDS.items():
        v = cols[name]
        ok = v <= hi if lo is None else (v >= lo) & (v <= hi)
        keep = ok if keep is None else keep & ok
    return None if keep is None or keep.all() else keep


def _may_be_impossible(p: Piece, items_lo: int | None, items_hi: int | None) -> bool:
    """Whether a piece's footer statistics (None: unknown) allow a row outside the bounds."""
    checks = ((p.t_min, p.t_max, "t_end_ns"), (p.d_min, p.d_max, "duration_ns"), (items_lo, items_hi, "items"))
    for lo_v, hi_v, name in checks:
        lo, hi = _BOUNDS[name]
        if lo_v is None or hi_v is None or hi_v > hi or (lo is not None and lo_v < lo):
            return True
    return False


def _set_statistics(p: Piece, t: np.ndarray, d: np.ndarray, items: np.ndarray) -> None:
    n = int(t.shape[0])
    p.rows = n
    p.t_min, p.t_max = (int(t.min()), int(t.max())) if n else (None, None)
    p.d_min, p.d_max = (int(d.min()), int(d.max())) if n else (None, None)
    p.items_each = int(items[0]) if n and bool(np.all(items == items[0])) else None


def _parquet_pieces(path: Path, rel: str, problems: list[str]) -> list[Piece]:
    import pyarrow.parquet as pq

    from edgemon.recording.safe_io import regular_file_path

    try:
        with regular_file_path(path) as own, pq.ParquetFile(own) as f:
            meta = f.metadata
            schema = f.schema_arrow
    except FileNotFoundError:
        return []
    except Exception as e:  # noqa: BLE001 - corrupt or foreign file
        problems.append(f"{rel}: not a readable Parquet file ({' '.join(str(e).split())[:200]}); skipped")
        return []
    names = schema.names
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        problems.append(f"{rel}: not an edgemon latency segment (missing {', '.join(missing)}); skipped")
        return []
    for c in COLUMNS[:3]:
        if str(schema.field(c).type) not in _INTEGER:
            problems.append(f"{rel}: column {c} is {schema.field(c).type}, not an integer; skipped")
            return []
    if str(schema.field("warmup").type) != "bool":
        problems.append(f"{rel}: column warmup is {schema.field('warmup').type}, not bool; skipped")
        return []
    col = {c: names.index(c) for c in ("t_end_ns", "duration_ns", "warmup", "items")}
    pieces = []
    for k in range(meta.num_row_groups):
        rg = meta.row_group(k)
        ts = rg.column(col["t_end_ns"]).statistics
        ds = rg.column(col["duration_ns"]).statistics
        ws = rg.column(col["warmup"]).statistics
        warm = bool(ws.max) if ws is not None and ws.has_min_max else None
        its = rg.column(col["items"]).statistics
        lo_i, hi_i = _stat(its, True), _stat(its, False)
        each = lo_i if lo_i is not None and lo_i == hi_i else None
        piece = Piece(f"{rel}#{k}", path, k, rg.num_rows, _stat(ts, True), _stat(ts, False),
                      _stat(ds, True), _stat(ds, False), warm, each)
        piece.filtered = rg.num_rows > 0 and _may_be_impossible(piece, lo_i, hi_i)   # vetted when indexed
        pieces.append(piece)
    return pieces


def _tail_piece(path: Path, rel: str, problems: list[str], live: bool) -> Piece | None:
    from edgemon.recording.segments import read_tail

    try:
        contents = read_tail(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        problems.append(f"{rel}: unreadable ({e.strerror or e}); skipped")
        return None
    if contents.table is None:
        if not live:
            problems.append(f"{rel}: no complete batch ({contents.error}); skipped")
        return None
    if contents.error and not live:
        problems.append(f"{rel}: {contents.dropped_bytes} bytes of a torn batch ignored; "
                        "run `edgemon recover` to convert it")
    table = contents.table
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        problems.append(f"{rel}: not an edgemon latency tail (missing {', '.join(missing)}); skipped")
        return None
    try:
        raw = {c: table.column(c).to_numpy() for c in COLUMNS}
    except Exception as e:  # noqa: BLE001 - missing values, foreign types
        problems.append(f"{rel}: unreadable ({' '.join(str(e).split())[:200]}); skipped")
        return None
    keep = _plausible(raw)
    if keep is not None:
        problems.append(f"{rel}: {int(keep.shape[0] - np.count_nonzero(keep))} row(s) with impossible values "
                        "(a time outside 0..100 years, a latency over a day, a bad item count) left out")
    arrays = {c: np.asarray(raw[c] if keep is None else raw[c][keep], dtype=_DTYPES[c]) for c in COLUMNS}
    piece = Piece(rel, path, -1, 0, None, None, any_warm=bool(arrays["warmup"].any()), arrays=arrays)
    _set_statistics(piece, arrays["t_end_ns"], arrays["duration_ns"], arrays["items"])
    piece.items_each = None      # a tail's rows are counted, not taken from statistics
    return piece


def _same_rows(a: Piece, b: Piece) -> bool:
    return (a.rows, a.t_min, a.t_max, a.d_min, a.d_max) == (b.rows, b.t_min, b.t_max, b.d_min, b.d_max)


def index_latency(folder: Path, *, live: bool = False) -> LatencyChunks:
    """The pieces of ``folder/latency``: Parquet segments by their footers, then tails without a
    Parquet twin (read now: a tail is at most one segment). A segment that repeats another
    one's rows (same count, time range and duration range in every row group) is left out."""
    problems: list[str] = []
    lat = Path(folder) / "latency"
    segments = sorted_files(lat, SEGMENT_SUFFIX)
    seg_names = {p.name for p in segments}
    by_file: list[tuple[str, list[Piece]]] = []
    for seg in segments:
        pieces = _parquet_pieces(seg, f"latency/{seg.name}", problems)
        if pieces:
            by_file.append((seg.name, pieces))
    for tail in sorted_files(lat, TAIL_SUFFIX):
        if tail.with_suffix(SEGMENT_SUFFIX).name in seg_names:
            continue  # rolled while we listed: its Parquet twin has the rows
        piece = _tail_piece(tail, f"latency/{tail.name}", problems, live)
        if piece is not None:
            by_file.append((tail.name, [piece]))
    kept: list[tuple[str, list[Piece]]] = []
    for name, pieces in by_file:
        twin = next((k for k, ps in kept if len(ps) == len(pieces) and pieces[0].t_min is not None
                     and all(_same_rows(a, b) for a, b in zip(ps, pieces))), None)
        if twin is not None and any(p.rows > 0 for p in pieces):
            problems.append(f"latency/{name}: repeats the rows of latency/{twin} (a duplicated segment); "
                            "left out")
            continue
        kept.append((name, pieces))
    flat = [p for _, ps in kept for p in ps]
    chunks = LatencyChunks(flat, problems)
    for p in flat:
        if p.filtered:
            p.filtered = False           # read it whole once: which rows are impossible
            chunks._leave_out_impossible(p)
    flat.sort(key=lambda p: (p.t_min is None, p.t_min or 0, p.name))
    problems += _overlaps(flat)
    return chunks


def _overlaps(pieces: list[Piece]) -> list[str]:
    """One line per pair of files whose rows overlap in time (rows from one worker never do)."""
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    last: Piece | None = None
    for p in pieces:
        if p.t_min is None or p.rows == 0:
            continue
        if last is not None and p.t_min < (last.t_max or p.t_min):
            a, b = last.name.split("#")[0], p.name.split("#")[0]
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                out.append(f"{b}: its rows overlap in time those of {a} (not from one worker); both are counted")
        if last is None or (p.t_max or 0) > (last.t_max or 0):
            last = p
    return out
