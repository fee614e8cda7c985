"""Leases: one holder per name across processes, on a local disk and an fsspec memory store;
stale claims (expired, dead process) give way; a lapsed lease is noticed by its holder."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from flowpipe.storage.files import Files
from flowpipe.storage.leases import Claim, Holder, LeaseHeld, LeaseKeeper, LeaseLost, Leases


def leases(root: str, run: str, seconds: float = 60.0, pid: int | None = None) -> Leases:
    holder = Holder(run, Holder.this_process(run).host, pid or os.getpid())
    return Leases(Files(root), "videos", holder, seconds)


@pytest.fixture(params=["local", "memory"])
def root(request, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "out")
    return f"memory://leases-{tmp_path.name}/out"


def test_one_holder_until_released(root: str) -> None:
    first, second = leases(root, "run-a"), leases(root, "run-b")
    lease = first.acquire("a/video")
    with pytest.raises(LeaseHeld, match="run-a"):
        second.acquire("a/video")
    assert second.holder_of("a/video") == first.holder
    second.acquire("a/other").release()  # other names are free
    lease.release()
    second.acquire("a/video").release()
    assert second.holder_of("a/video") is None


def test_expired_and_dead_claims_give_way(root: str) -> None:
    short = leases(root, "run-a", seconds=0.2)
    short.acquire("v")  # never renewed: expires
    time.sleep(0.3)
    leases(root, "run-b").acquire("v").release()
    dead = leases(root, "run-c", pid=_dead_pid())  # a process of this host that has ended
    dead.acquire("w")
    leases(root, "run-d").acquire("w").release()


def test_a_lapsed_lease_is_lost_and_not_renewed(root: str) -> None:
    mine = leases(root, "run-a", seconds=0.2).acquire("v")
    time.sleep(0.3)
    taken = leases(root, "run-b").acquire("v")  # our claim expired: removed as stale
    assert not mine.still_held()
    with pytest.raises(LeaseLost):
        mine.renew()
    assert leases(root, "run-c").holder_of("v").run == "run-b"
    taken.release()


def test_the_keeper_renews_while_working(tmp_path: Path) -> None:
    lease = leases(str(tmp_path), "run-a", seconds=0.4).acquire("v")
    with LeaseKeeper(lease):
        time.sleep(1.0)  # more than twice the lease's length
        assert lease.still_held()
        with pytest.raises(LeaseHeld):
            leases(str(tmp_path), "run-b").acquire("v")
    lease.release()
    assert not (tmp_path / ".flowpipe" / "leases" / "videos" / "v").exists()  # no empty folder


def test_sweep_removes_stale_claims_only(tmp_path: Path) -> None:
    leases(str(tmp_path), "run-a", seconds=0.1).acquire("old/one")
    live = leases(str(tmp_path), "run-b").acquire("live")
    time.sleep(0.2)
    assert leases(str(tmp_path), "run-c").sweep() == 1
    assert leases(str(tmp_path), "run-c").holder_of("live") == live.holder


def _claim_many(root: str, run: str, names: list[str], queue) -> None:
    won = []
    for name in names:
        try:
            leases(root, run).acquire(name)  # kept: the other process must see it held
            won.append(name)
        except LeaseHeld:
            pass
    queue.put((run, won))


def test_two_processes_racing_never_both_hold_a_name(tmp_path: Path) -> None:
    names = [f"video{k:03d}" for k in range(30)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_many, args=(str(tmp_path), r, names, queue)) for r in "ab"]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join()
    assert not set(results["a"]) & set(results["b"])  # never both
    assert len(results["a"]) + len(results["b"]) >= len(names) - 2  # contention settles


def test_claims_decode_or_are_ignored() -> None:
    holder = Holder("r", "h", 1)
    assert Claim.decode(Claim(holder, 5.0).encode()) == Claim(holder, 5.0)
    assert Claim.decode(b"{torn") is None and Claim.decode(None) is None


def _dead_pid() -> int:
    proc = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    return proc.pid


def _claim_and_release(root: str, run: str, names: list[str], queue) -> None:
    errors = []
    for name in names:
        try:
            leases(root, run).acquire(name).release()  # empties and removes its folders
        except LeaseHeld:
            pass
        except OSError as err:  # a folder removed under a claim being written
            errors.append(repr(err))
    queue.put(errors)


def test_folders_removed_by_one_process_do_not_fail_anothers_claims(tmp_path: Path) -> None:
    """Videos of one class share a lease folder that each release removes once empty."""
    names = [f"class{k % 2}/video{k:03d}" for k in range(150)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_and_release, args=(str(tmp_path), r, names[i::2] + names, queue))
        for i, r in enumerate("ab")
    ]
    for proc in procs:
        proc.start()
    errors = [queue.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join()
    assert errors == [[], []]
