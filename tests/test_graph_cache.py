"""The onnx engine's graph folder and exporter hygiene, without exporting: pruning by last use,
and the exporter's warnings silenced by narrow filters rather than by swapping the process's."""

from __future__ import annotations

import os
import warnings

from backend.model import engines
from backend.model.engines import prune_graphs


def _graph(folder, name: str, size: int, age_s: float):
    path = folder / f"synthesis-{name}.onnx"
    path.write_bytes(b"\0" * size)
    t = 1_700_000_000 - age_s
    os.utime(path, (t, t))
    return path


def test_pruning_removes_the_least_recently_used_graphs_until_the_folder_fits(tmp_path):
    old, mid, new = _graph(tmp_path, "a", 400, 300), _graph(tmp_path, "b", 400, 200), _graph(tmp_path, "c", 400, 100)
    other = tmp_path / "frames.bin"
    other.write_bytes(b"\0" * 5000)  # not a graph: never counted nor removed
    assert prune_graphs(tmp_path, keep=new, limit=1200) == []
    assert prune_graphs(tmp_path, keep=new, limit=800) == [old]
    assert prune_graphs(tmp_path, keep=mid, limit=100) == [new]  # the one in use stays, whatever its size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.bin", mid.name]


def test_the_exporters_warnings_are_filtered_narrowly_and_once():
    before = list(warnings.filters)
    try:
        for _ in range(2):
            with engines._quiet():
                pass
        added = [f for f in warnings.filters if f not in before]
        assert len(added) == len(engines._EXPORTER_WARNINGS)  # no duplicates on a second export
        assert all(f[0] == "ignore" for f in added)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            warnings.filters[:0] = added  # as after an export, in front
            with engines._quiet():
                warnings.warn("ours", UserWarning, stacklevel=1)  # a warning of ours still shows
                warnings.warn_explicit("exporter", UserWarning, "x.py", 1, module="torch.onnx._internal.x")
        assert [str(w.message) for w in caught] == ["ours"]
    finally:
        warnings.filters[:] = before
