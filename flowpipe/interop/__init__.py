"""Working with other tools: the list files training frameworks read (`flowpipe lists`)."""

from flowpipe.interop.lists import FORMATS, ListRequest, ListsWritten, write_lists

__all__ = ["FORMATS", "ListRequest", "ListsWritten", "write_lists"]
