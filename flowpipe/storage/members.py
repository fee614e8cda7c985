"""Reading a finished video's member files, from its folder or its zip (opened once)."""

from __future__ import annotations

import zipfile

from flowpipe.storage.files import MISSING, Files
from flowpipe.storage.layout import META_NAME, PACKS, VideoPaths, check_member_name


class MissingMember(Exception):
    """A member file (its name in .name; "" when the layout has no such video) absent from one
    layout of a video."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def read_members(files: Files, pack: str, video_id: str, names: list[str]) -> list[bytes]:
    """Several member files of one video, this pack's layout looked at first; FileNotFoundError
    naming the first missing file."""
    names = [n if n == META_NAME else check_member_name(n) for n in names]
    paths = VideoPaths(video_id)
    missing = ""
    for layout in PACKS if pack == "folder" else PACKS[::-1]:
        try:
            if layout == "zip":
                return _zip_members(files, paths, names)
            return _folder_members(files, paths, names)
        except MissingMember as exc:
            missing = missing or exc.name
    missing = missing or (names[0] if names else "")
    raise FileNotFoundError(f"video {video_id!r}: file {missing!r} not found in {files.url}")


def _folder_members(files: Files, paths: VideoPaths, names: list[str]) -> list[bytes]:
    """Members of the video's folder; MissingMember for the first one missing."""
    out = []
    for name in names:
        data = files.read_or_none(paths.member(name))
        if data is None:
            raise MissingMember(name if files.exists(paths.folder) else "")
        out.append(data)
    return out


def _zip_members(files: Files, paths: VideoPaths, names: list[str]) -> list[bytes]:
    """Members of the video's zip; MissingMember for a missing zip or member, ValueError naming
    the zip when it is corrupt."""
    try:
        f = files.open_read(paths.zip)
    except MISSING:
        raise MissingMember("") from None
    try:
        with f, zipfile.ZipFile(f) as zf:
            return [_zip_member(zf, n) for n in names]
    except zipfile.BadZipFile as err:
        raise ValueError(f"{files.path(paths.zip)}: corrupt zip ({err})") from None


def _zip_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes; MissingMember when the zip lacks it."""
    try:
        return zf.read(name)
    except KeyError:
        raise MissingMember(name) from None
