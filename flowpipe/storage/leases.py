"""Leases: one writer at a time per video (and for the dataset-level files), on local disks and
on object stores alike, and never held for ever by a writer that died.

A writer claims a name by writing a claim file of its own under
``OUT/.flowpipe/leases/<kind>/<name>/`` and then listing that folder. It holds the lease when no
other live claim is there; otherwise it removes its claim and backs off. Two writers that claim
at once cannot both hold it: each lists after writing its own claim, so the later of the two
listings sees the other claim. (Both may back off; a short random wait and another try settle
it.) This needs only atomic whole-file writes and listings that show finished writes, which
local file systems and S3-style object stores give; no exclusive create is needed.

A claim is live until its expiry time, which its holder pushes forward while it works
(`LeaseKeeper`); a claim past its expiry, or one from a process on this host that no longer
runs, is stale and anyone may remove it. A holder checks that its claim is still there before
it writes the video's done marker (`Lease.still_held`): one that lost its lease (it stalled
past the expiry and another writer took over) gives the video up instead of finishing it.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import random
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass

from flowpipe.storage.files import Files
from flowpipe.storage.layout import BOOKKEEPING_DIR, TEMPORARY_MARK

LEASES_DIR = f"{BOOKKEEPING_DIR}/leases"
CLAIM_SUFFIX = ".claim"
CONTENDED_TRIES = 4  # tries when two writers claim at the same moment
BACKOFF_SECONDS = (0.02, 0.3)


@dataclass(frozen=True)
class Holder:
    """Who claims: a run of `flowpipe extract` (its id), and the process on a host."""

    run: str
    host: str
    pid: int

    @classmethod
    def this_process(cls, run: str) -> Holder:
        """This process, working for run `run`."""
        return cls(run, socket.gethostname(), os.getpid())

    def describe(self) -> str:
        """'run <id> (pid <pid> on <host>)', for messages."""
        return f"run {self.run[:8]} (pid {self.pid} on {self.host})"


@dataclass(frozen=True)
class Claim:
    """A claim file's content."""

    holder: Holder
    expires: float  # seconds since the epoch

    def stale(self, now: float, run: str) -> bool:
        """Whether the claim no longer holds: expired, made by a process of this host that has
        ended, or made by an earlier attempt of the same run (the scheduler runs one attempt
        of a task at a time, so an earlier one has died)."""
        if self.expires < now or self.holder.run == run:
            return True
        return self.holder.host == socket.gethostname() and not _process_alive(self.holder.pid)

    def encode(self) -> bytes:
        return json.dumps({"holder": asdict(self.holder), "expires": self.expires}).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> Claim | None:
        """The claim in data; None for a missing or torn file."""
        try:
            obj = json.loads((data or b"").decode())
            return cls(Holder(**obj["holder"]), float(obj["expires"]))
        except (ValueError, KeyError, TypeError):
            return None


class LeaseHeld(Exception):
    """Another live writer holds the lease; `holder` says who."""

    def __init__(self, name: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another writer"
        super().__init__(f"{name}: being written by {who}")
        self.holder = holder


class LeaseLost(Exception):
    """A holder's claim expired or was removed while it worked."""

    def __init__(self, folder: str) -> None:
        super().__init__(f"{folder}: the lease lapsed while writing (another writer may own it)")


class Lease:
    """A held lease: renew() while working, still_held() before finishing, release() at the
    end (or use it as a context manager)."""

    def __init__(self, files: Files, folder: str, claim: str, holder: Holder, seconds: float):
        self.files = files
        self.folder = folder
        self.claim_path = claim
        self.holder = holder
        self.seconds = seconds
        self.lost = False
        self._written = False

    def renew(self) -> None:
        """Push the expiry forward by the lease's length. A claim that is gone or already
        expired is not renewed (another writer may have taken over): the lease is lost."""
        if self.lost or (self._written and not self.still_held()):
            self.lost = True
            raise LeaseLost(self.folder)
        claim = Claim(self.holder, time.time() + self.seconds)
        self.files.write_atomic(self.claim_path, claim.encode())
        self._written = True

    def still_held(self) -> bool:
        """Whether this writer's claim is still there and unexpired (no one took over)."""
        if self.lost:
            return False
        claim = Claim.decode(self.files.read_or_none(self.claim_path))
        return claim is not None and claim.holder == self.holder and claim.expires > time.time()

    def release(self) -> None:
        """Remove the claim (and on a local disk the folders it leaves empty: one per video
        would otherwise stay behind, an inode each)."""
        with contextlib.suppress(OSError):
            self.files.remove(self.claim_path)
        if self.files.local:
            self.files.remove_empty_folders(self.folder, stop=LEASES_DIR)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Leases:
    """Claims of `holder` on names of one kind ('videos' or 'dataset') in a dataset."""

    def __init__(self, files: Files, kind: str, holder: Holder, seconds: float) -> None:
        self.files = files
        self.kind = kind
        self.holder = holder
        self.seconds = seconds

    def folder(self, name: str) -> str:
        """Where the claims on name live."""
        return posixpath.join(LEASES_DIR, self.kind, name)

    def acquire(self, name: str) -> Lease:
        """The lease on name; LeaseHeld when another live writer holds it (after a few tries
        when the other claim came at the same moment as ours)."""
        for attempt in range(CONTENDED_TRIES):
            other = self._try(name)
            if not isinstance(other, Claim):
                return other
            if attempt + 1 < CONTENDED_TRIES:
                time.sleep(random.uniform(*BACKOFF_SECONDS))
        raise LeaseHeld(name, other.holder)

    def wait(self, name: str, timeout: float) -> Lease:
        """The lease on name, waiting up to timeout seconds for its holder to let go."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.acquire(name)
            except LeaseHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(*BACKOFF_SECONDS))

    def holder_of(self, name: str) -> Holder | None:
        """Who holds a live lease on name, if anyone (read only)."""
        now = time.time()
        for claim in self._claims(self.folder(name)).values():
            if not claim.stale(now, run=""):
                return claim.holder
        return None

    def sweep(self) -> int:
        """Remove the stale claims of every name of this kind (left by writers that were
        killed after finishing, whose names no one claims again); returns how many."""
        now = time.time()
        removed = 0
        top = posixpath.join(LEASES_DIR, self.kind)
        for rel in self.files.walk(top):
            if not rel.endswith(CLAIM_SUFFIX):
                continue
            claim = Claim.decode(self.files.read_or_none(rel))
            if claim is None or claim.stale(now, run=""):
                self.files.remove(rel)
                self.files.remove_empty_folders(posixpath.dirname(rel), stop=LEASES_DIR)
                removed += 1
        return removed

    def _try(self, name: str) -> Lease | Claim:
        """Claim name once: our Lease, or the other live claim that made us back off."""
        folder = self.folder(name)
        mine = posixpath.join(folder, f"{uuid.uuid4().hex}{CLAIM_SUFFIX}")
        lease = Lease(self.files, folder, mine, self.holder, self.seconds)
        lease.renew()
        now = time.time()
        for path, claim in self._claims(folder).items():
            if path == mine:
                continue
            if claim.stale(now, self.holder.run):
                self.files.remove(path)
                continue
            lease.release()
            return claim
        return lease

    def _claims(self, folder: str) -> dict[str, Claim]:
        """Path -> claim of each readable claim file in folder."""
        claims = {}
        for name in self.files.list_files(folder):
            if not name.endswith(CLAIM_SUFFIX) or TEMPORARY_MARK in name:
                continue
            path = posixpath.join(folder, name)
            claim = Claim.decode(self.files.read_or_none(path))
            if claim is not None:
                claims[path] = claim
        return claims


class LeaseKeeper:
    """A thread renewing a lease every quarter of its length until stopped or lost; a
    renewal that fails to write is retried at the next tick (the claim expires only after four
    missed renewals)."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowpipe-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.lease.seconds / 4) and not self.lease.lost:
            with contextlib.suppress(OSError, LeaseLost):
                self.lease.renew()

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
