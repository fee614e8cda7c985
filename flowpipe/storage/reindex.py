"""`flowpipe index OUT`: look at a dataset's index, check it against the meta.json files, or
make it anew from them (both read one meta.json per video: for when the index is missing or
doubted, e.g. after files were changed by hand)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.index import DatasetIndex, meta_digest, rebuild, shard_paths
from flowpipe.storage.leases import Holder, Leases

LEASE_WAIT = 300.0


@dataclass
class IndexCheck:
    """What the index claims against what the meta.json files say."""

    claimed: int = 0
    shards: int = 0
    absent: list[str] = field(default_factory=list)  # claimed, but no meta.json
    different: list[str] = field(default_factory=list)  # claimed, another meta.json
    unclaimed: list[str] = field(default_factory=list)  # finished, not claimed (yet)

    @property
    def consistent(self) -> bool:
        """Whether everything the index claims is finished as it says."""
        return not self.absent and not self.different

    def as_dict(self) -> dict:
        return {
            "claimed": self.claimed,
            "shards": self.shards,
            "absent": self.absent,
            "different": self.different,
            "unclaimed": self.unclaimed,
            "consistent": self.consistent,
        }


def check_index(store: DatasetStore) -> IndexCheck:
    """Every claim of the index compared with the video's meta.json (one read per video)."""
    index = DatasetIndex.load(store.files) or DatasetIndex({}, {}, [])
    found = store.list_done()
    result = IndexCheck(claimed=len(index), shards=len(index.shards))
    for entry in index.entries():
        meta = found.get(entry["id"])
        if meta is None:
            result.absent.append(entry["id"])
        elif meta_digest(meta) != entry["digest"]:
            result.different.append(entry["id"])
    result.unclaimed = sorted(vid for vid in found if vid not in index)
    return result


def rebuild_index(store: DatasetStore) -> int:
    """A new index from the meta.json files, under the dataset's lease (runs take turns with
    it); returns the number of videos it claims."""
    run = uuid.uuid4().hex
    leases = Leases(store.files, "dataset", Holder.this_process(run), seconds=LEASE_WAIT)
    with leases.wait("files", LEASE_WAIT):
        return rebuild(store.files, store.markers.each(), run)


def index_status(store: DatasetStore) -> dict:
    """Shards and videos the index claims (a few reads)."""
    index = DatasetIndex.load(store.files)
    return {
        "root": store.url,
        "indexed": index is not None,
        "claimed": len(index) if index else 0,
        "shards": len(shard_paths(store.files)),
    }
