"""Training steps (a TensorFlow runner's `phase=both`) stay out of the inference latency set."""

from __future__ import annotations

import numpy as np

from analysis_helpers import analyze_folder, back_to_back, build_session


def test_train_phase_rows_are_not_counted_as_inferences(tmp_path):
    train_t, train_ms = back_to_back(1.0, 11.0, 50.0)      # 200 training steps of 50 ms
    infer_t, infer_ms = back_to_back(12.0, 22.0, 5.0)      # 2000 inferences of 5 ms
    folder = build_session(
        tmp_path / "s", duration_s=25,
        latency=(np.concatenate([train_t, infer_t]), np.concatenate([train_ms, infer_ms])),
        events=[(0.5, "phase", {"name": "train"}), (11.5, "phase", {"name": "inference"})],
    )
    res = analyze_folder(folder)
    assert res["latency_ms"]["count"] == len(infer_t)
    assert res["latency_ms"]["max"] == 5.0
    assert res["items"] == len(infer_t)


def test_without_phase_events_every_measured_row_counts(tmp_path):
    t, ms = back_to_back(1.0, 3.0, 10.0)
    res = analyze_folder(build_session(tmp_path / "s", duration_s=5, latency=(t, ms)))
    assert res["latency_ms"]["count"] == len(t)
