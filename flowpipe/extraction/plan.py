"""What a run will do, decided before any cluster starts: the checks of OUT and of the inputs
against what OUT holds, and the resume decision (which videos are finished already).

Every mistake found here is one ValueError line (exit code 2) and nothing has been written
but OUT's folder and its manifest. Refused:

- OUT is a file, or cannot be written;
- OUT is a non-empty folder that is not a flowpipe dataset (another tool's files), unless the
  run is told to adopt it (`force`);
- the dataset was made with other settings, unless `overwrite` (which redoes the videos given
  and leaves the dataset mixed, said so in flowpipe.json and `flowpipe info`);
- labelled and unlabelled videos in one dataset, or class names the dataset does not know.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from flowpipe.extraction.settings import ExtractSettings, JobTuning
from flowpipe.extraction.sources import identity, is_url, local_path, redact, same_source
from flowpipe.extraction.tasks import VideoTask
from flowpipe.storage.dataset import DatasetStore, StoreSpec
from flowpipe.storage.files import StorageOptions
from flowpipe.storage.index import DatasetIndex, rebuild
from flowpipe.storage.layout import BOOKKEEPING_DIR, DATASET_FILES, MANIFEST_NAME
from flowpipe.storage.markers import normalised


@dataclass(frozen=True)
class RunOptions:
    """How a run treats OUT: the layout its writers use, whether finished videos are redone
    (`overwrite`), whether a folder holding other files may be written into (`force`), the
    progress display, fsspec options for inputs and OUT, and the job's tuning."""

    pack: str = "folder"
    overwrite: bool = False
    force: bool = False
    progress: bool = True
    storage_options: StorageOptions = field(default_factory=StorageOptions)
    tuning: JobTuning = field(default_factory=JobTuning)


@dataclass
class Plan:
    """The run's work: the videos to extract (with the digest of the finished version each one
    replaces, if any), those already done, those whose source changed since, and the videos
    to redo that the index claims (it must stop claiming them before they are redone)."""

    output: StoreSpec
    todo: list[tuple[VideoTask, str | None]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    changed_sources: list[str] = field(default_factory=list)
    classes: list[str] | None = None
    unclaim: list[str] = field(default_factory=list)

    @property
    def store(self) -> DatasetStore:
        return self.output.open()


def open_output(out: str, options: RunOptions) -> DatasetStore:
    """The dataset at OUT (a local path made absolute, or a URL); ValueError unless this
    process can write there."""
    store = DatasetStore(local_path(out), options.pack, options.storage_options)
    _check_writable(store)
    return store


def make_plan(
    store: DatasetStore, tasks: list[VideoTask], settings: ExtractSettings, options: RunOptions
) -> Plan:
    """Check OUT and the inputs against it, then split the tasks into work and finished ones
    (under the dataset's lease, so that runs starting together see each other's settings)."""
    manifest = store.read_manifest()
    adopted = _check_ours(store, manifest, options.force)
    _check_settings(store, manifest, settings, options.overwrite)
    tasks, classes = _with_dataset_classes(tasks, manifest)
    _check_labels(store, tasks)
    output = StoreSpec(store.url, options.pack, options.storage_options, adopted)
    plan = Plan(output, classes=classes)
    finished = indexed(store).metas()
    wanted = normalised(settings.as_dict())
    for task in tasks:
        meta = finished.get(task.video_id)
        if meta is not None and meta.get("settings") == wanted and not options.overwrite:
            now = _identity_now(task, options)
            if same_source(meta.get("source_identity"), now, task.path):
                plan.skipped.append(task.video_id)
                continue
            plan.changed_sources.append(task.video_id)
        plan.todo.append((task, None if meta is None else meta["digest"]))
        if meta is not None:
            plan.unclaim.append(task.video_id)
    return plan


def _identity_now(task: VideoTask, options: RunOptions) -> dict | None:
    """The source's identity now: from the inputs' listing when it gave one, else a stat of a
    local file; a remote file listed by a list file is not asked (a request per video at
    650,000 videos): its video is redone only when its settings change."""
    if task.identity is not None:
        return task.identity
    return None if is_url(task.path) else identity(task.path, options.storage_options)


def indexed(store: DatasetStore) -> DatasetIndex:
    """The dataset's index; for a dataset without one (written before indexes) it is made
    first from its meta.json files, and an empty one stands for a new dataset."""
    index = store.index()
    if index is None:
        if rebuild(store.files, store.markers.each(), run="rebuild"):
            index = store.index()
    return index or DatasetIndex({}, {}, [])


def _check_writable(store: DatasetStore) -> None:
    """ValueError unless OUT is (or can be made) a folder this process writes to."""
    files = store.files
    if files.local:
        if os.path.exists(files.root) and not os.path.isdir(files.root):
            raise ValueError(f"{files.root}: OUT is a file, not a folder")
        try:
            files.makedirs(BOOKKEEPING_DIR)
        except OSError as err:
            raise ValueError(f"{files.root}: cannot write there ({err.strerror})") from None
        if not os.access(files.path(BOOKKEEPING_DIR), os.W_OK | os.X_OK):
            raise ValueError(f"{files.root}: cannot write there (read-only)")
        return
    try:
        files.write_atomic(f"{BOOKKEEPING_DIR}/writable", b"flowpipe\n")
    except (OSError, ValueError) as err:
        raise ValueError(f"{redact(store.url)}: cannot write there ({err})") from None


def _check_ours(store: DatasetStore, manifest: dict | None, force: bool) -> bool:
    """Whether OUT was adopted (held other files when flowpipe first wrote there); ValueError
    for a folder of other files without `force`."""
    if manifest is not None:
        return bool(manifest.get("adopted"))
    others = [n for n in store.files.list_entries() if n not in (BOOKKEEPING_DIR, MANIFEST_NAME)]
    if others and not force:
        raise ValueError(
            f"{redact(store.url)} holds other files ({', '.join(sorted(others)[:3])}"
            f"{', ...' if len(others) > 3 else ''}) and is not a flowpipe dataset; choose an "
            "empty folder, or pass --force to write beside them (flowpipe then replaces only "
            "files it wrote)"
        )
    ours = [n for n in others if n in DATASET_FILES]
    if ours:
        raise ValueError(
            f"{redact(store.url)} holds a {ours[0]} that flowpipe did not write; rename or "
            "remove it before extracting there (flowpipe writes its own)"
        )
    return bool(others)


def _check_settings(
    store: DatasetStore, manifest: dict | None, settings: ExtractSettings, overwrite: bool
) -> None:
    """ValueError when the dataset was made with other settings, unless overwrite."""
    if manifest is None or "settings" not in manifest or overwrite:
        return
    wanted = normalised(settings.as_dict())
    if manifest["settings"] == wanted:
        return
    changes = settings_changes(manifest["settings"], wanted)
    raise ValueError(
        f"{redact(store.url)} was extracted with other settings ({changes}); pass --overwrite "
        "to redo the videos given with the new ones, or extract into another OUT"
    )


def settings_changes(old: dict, new: dict, prefix: str = "") -> str:
    """'bound 20.0 -> 5.0, params.warps 5 -> 3' for the fields that differ."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = settings_changes(a, b, f"{prefix}{key}.")
            diffs += [inner] if inner else []
        elif a != b:
            diffs.append(f"{prefix}{key} {a} -> {b}")
    return ", ".join(diffs)


def _with_dataset_classes(
    tasks: list[VideoTask], manifest: dict | None
) -> tuple[list[VideoTask], list[str] | None]:
    """Tasks labelled by class name numbered as the dataset numbers its classes (a list of a
    subset of the classes keeps their numbers); ValueError for a class the dataset lacks."""
    named = sorted({t.class_name for t in tasks if t.class_name is not None})
    known = (manifest or {}).get("classes")
    if not named:
        return tasks, known
    if not known:
        return tasks, named
    index = {name: i for i, name in enumerate(known)}
    unknown = [n for n in named if n not in index]
    if unknown:
        raise ValueError(
            f"class {unknown[0]!r} is not among the dataset's {len(known)} classes "
            f"(flowpipe.json 'classes'); extract it into another OUT"
        )
    relabel = [
        dataclasses.replace(t, label=index[t.class_name]) if t.class_name else t for t in tasks
    ]
    return relabel, known


def _check_labels(store: DatasetStore, tasks: list[VideoTask]) -> None:
    """ValueError when the finished videos that stay and the inputs mix labelled and
    unlabelled videos (videos.txt could not say both)."""
    with_label: tuple[str, int] | None = None
    without: str | None = None
    for task in tasks:
        if task.label is None:
            without = without or task.video_id
        else:
            with_label = with_label or (task.video_id, task.label)
    if with_label is None or without is None:
        given = {t.video_id for t in tasks}
        for vid, _, label in store.read_video_list():
            if vid in given:
                continue
            if label is None:
                without = without or vid
            else:
                with_label = with_label or (vid, label)
            if with_label and without:
                break
    if with_label and without:
        raise ValueError(
            f"labelled and unlabelled videos in one dataset: {with_label[0]!r} has label "
            f"{with_label[1]} but {without!r} has none; give every input a label (a --list "
            "file with labels) or none"
        )


Echo = Callable[[str], None]


def describe(plan: Plan, echo: Echo) -> None:
    """One line on sources that changed since their videos were extracted."""
    if plan.changed_sources:
        first = plan.changed_sources[0]
        n = len(plan.changed_sources)
        echo(f"{n} source{'s' if n > 1 else ''} changed since extracted (e.g. {first}): redoing")


__all__ = ["Plan", "RunOptions", "indexed", "is_url", "make_plan", "settings_changes"]
