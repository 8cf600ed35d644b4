"""Logs edgemon did not record, turned into normal recordings (`edgemon import`).

* :mod:`~edgemon.importers.tegrastats_log`: a tegrastats log, with ``--logfile`` timestamps,
  plain lines at a known interval, or ``date`` lines in between;
* :mod:`~edgemon.importers.jtop_csv`: the CSV that jetson-stats' logger example writes;
* :mod:`~edgemon.importers.latency_csv`: a latency log joined to either;
* :mod:`~edgemon.importers.board`: which Jetson wrote the lines;
* :mod:`~edgemon.importers.write`: the recording itself (the same writer as a live session).

Times of an imported recording are Unix nanoseconds (the wall clock of the log) where a live
one has CLOCK_MONOTONIC; its clock anchor maps them 1:1, so every reader works unchanged.
A line that cannot be read is counted and reported with its line number, never fatal; a file
with nothing usable is a one-line error (exit 2).
"""
