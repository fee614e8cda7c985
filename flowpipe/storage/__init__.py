"""The on-disk format v1 of a flow dataset (DESIGN.md): names, files, lists, codes.

from flowpipe.storage import DatasetStore, flow_names
store = DatasetStore("flow/")                 # or "s3://bucket/flow", pack="zip"
x, y = store.read_files("class/video", list(flow_names(1)))
store = open_store("rawframes/", bound=20)    # flow another tool wrote (storage/foreign.py)
"""

from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.foreign import RawframeStore, as_store, open_store
from flowpipe.storage.layout import (
    FORMAT_VERSION,
    backward_names,
    check_video_id,
    flow_names,
    image_name,
)
from flowpipe.storage.writers import VideoWriter

__all__ = [
    "FORMAT_VERSION",
    "DatasetStore",
    "RawframeStore",
    "VideoWriter",
    "as_store",
    "backward_names",
    "check_video_id",
    "flow_names",
    "image_name",
    "open_store",
]
