"""Dask across processes: a LocalCluster of two worker processes reduces a Zarr
array read through hybridio.zarr.Store (docs/chunk-stores.md shows the same)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 12):  # noqa: UP036 - zarr 3 needs CPython >= 3.12
    pytest.skip("zarr 3 needs Python >= 3.12", allow_module_level=True)

import dask.array as da
import numpy as np
import zarr
from dask.distributed import Client, LocalCluster

import hybridio.zarr


def _worker_facts() -> tuple[int, bool]:
    return os.getpid(), "hybridio.zarr" in sys.modules


@pytest.mark.timeout(60)
def test_two_worker_processes_reduce_an_array_read_through_the_store(tmp_path: Path) -> None:
    data = np.random.default_rng(7).random((256, 256))
    writer = hybridio.zarr.Store(tmp_path / "a.zarr")
    z = zarr.create_array(writer, shape=data.shape, chunks=(32, 32), dtype="float64")
    z[:] = data
    writer.close()
    reader = zarr.open_array(hybridio.zarr.Store(tmp_path / "a.zarr", read_only=True), mode="r")
    array = da.from_zarr(reader)
    with (
        # ":0": any free port for the scheduler's HTTP server. With None it still
        # takes 8787, and a cluster of a concurrent run holding it fails the test.
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        Client(cluster, timeout=30) as client,
    ):
        total = client.compute(array.sum()).result(timeout=30)
        column_max = client.compute(array.max(axis=0)).result(timeout=30)
        facts = client.run(_worker_facts)
    assert total == pytest.approx(data.sum())
    np.testing.assert_array_equal(column_max, data.max(axis=0))
    # Two separate processes, both of which unpickled the hybridio store.
    pids = {pid for pid, _ in facts.values()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(imported for _, imported in facts.values())
