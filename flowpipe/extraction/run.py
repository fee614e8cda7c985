"""A run of `flowpipe extract`: the plan, the tasks on the cluster, the dataset-level files.

One task per video, a bounded number in flight (a multiple of the cluster's worker threads),
so the client and the scheduler hold little whatever the number of videos. A worker that dies
takes its task to another worker (Dask reschedules it); an input that cannot be read comes back
as a failure record and is not retried. The client owns the dataset-level files (videos.txt,
failures.jsonl, flowpipe.json), written under the dataset's lease so concurrent runs take
turns; workers write only their videos' files, each under its video's lease.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flowpipe import __version__
from flowpipe.extraction.cluster import (
    ClusterOptions,
    check_gpu_workers,
    connect,
    dashboard_available,
)
from flowpipe.extraction.plan import Plan, RunOptions, describe, make_plan, open_output
from flowpipe.extraction.progress import Progress
from flowpipe.extraction.settings import ExtractSettings
from flowpipe.extraction.sources import redact
from flowpipe.extraction.tasks import VideoTask
from flowpipe.extraction.worker import PROGRESS_TOPIC, VideoJob, extract_video, failure_record
from flowpipe.storage.dataset import DatasetStore
from flowpipe.storage.index import COMPACT_ABOVE, IndexWriter, compact, shard_paths
from flowpipe.storage.leases import Holder, Leases
from flowpipe.storage.markers import normalised
from flowpipe.storage.summary import settings_sets

Echo = Callable[[str], None]
TASKS_PER_THREAD = 4  # tasks in flight per worker thread: enough to keep them busy
MIN_IN_FLIGHT = 16
VISIBILITY_SAMPLE = 32  # finished videos the client looks for after the run
DATASET_LEASE_WAIT = 300.0  # seconds a run waits for another to finish its dataset files


@dataclass
class RunSummary:
    """What a run did: videos finished now, skipped as already done, being written by another
    live run (not done), and failures."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    busy: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every input is done now."""
        return not self.failed and not self.busy


def run_extraction(
    tasks: list[VideoTask],
    out: str,
    settings: ExtractSettings,
    cluster: ClusterOptions,
    options: RunOptions = RunOptions(),  # noqa: B008 (frozen)
    client: Any = None,
    echo: Echo = print,
) -> RunSummary:
    """Extract every task not already done into OUT and write its dataset files. Runs on
    `client` when given, else on the cluster `cluster` names. Every check that can be made
    before work (OUT, settings, labels) raises ValueError before any cluster starts."""
    cluster.check()
    store = open_output(out, options)
    run = uuid.uuid4().hex
    holder = Holder.this_process(run)
    dataset_lease = Leases(store.files, "dataset", holder, options.tuning.lease_seconds)
    index = IndexWriter(store.files, run)
    with dataset_lease.wait("files", DATASET_LEASE_WAIT):
        plan = make_plan(store, tasks, settings, options)
        store.remove_stale_temporaries()  # left by writers killed in an earlier run
        Leases(store.files, "videos", holder, options.tuning.lease_seconds).sweep()
        _start_manifest(store, settings, plan)
        index.remove(plan.unclaim)  # before any of them is redone
    describe(plan, echo)
    summary = RunSummary(skipped=list(plan.skipped))
    if plan.todo:
        jobs = _jobs(plan, settings, cluster, options, run)
        job_run = JobRun(cluster, options, summary, index, echo)
        try:
            with _connection(client, cluster, options, echo) as active:
                _run_jobs(active, jobs, job_run)
        finally:
            index.flush()  # what finished is indexed, an interruption included
        _check_visible(store, summary)
    with dataset_lease.wait("files", DATASET_LEASE_WAIT):
        if len(shard_paths(store.files)) > COMPACT_ABOVE:
            compact(store.files, run)
        _write_dataset_files(store, settings, plan, summary, tasks)
    return summary


def _connection(
    client: Any, cluster: ClusterOptions, options: RunOptions, echo: Echo
) -> contextlib.AbstractContextManager:
    """The client given, or one on the cluster `cluster` names (started here when local)."""
    if client is not None:
        return contextlib.nullcontext(client)
    return connect(cluster, options.tuning, echo)


@dataclass
class JobRun:
    """What a run's results go to: its options, its summary, the index's shards, the screen."""

    cluster: ClusterOptions
    options: RunOptions
    summary: RunSummary
    index: IndexWriter
    echo: Echo


def _jobs(
    plan: Plan,
    settings: ExtractSettings,
    cluster: ClusterOptions,
    options: RunOptions,
    run: str,
) -> list[VideoJob]:
    """The plan's work as the jobs the workers run."""
    pairs = cluster.chunk_pairs(options.tuning)
    return [
        VideoJob(
            task=task,
            settings=settings,
            output=plan.output,
            device=cluster.device,
            tuning=options.tuning,
            run=run,
            chunk_pairs=pairs,
            replaces=seen,
            overwrite=options.overwrite,
        )
        for task, seen in plan.todo
    ]


def _run_jobs(client: Any, jobs: list[VideoJob], job_run: JobRun) -> None:
    """Run the jobs, a bounded number in flight, recording each result as it comes back."""
    from distributed import as_completed

    cluster, options = job_run.cluster, job_run.options
    resources = {"GPU": 1 / options.tuning.videos_per_gpu} if cluster.on_gpu else None
    if resources:
        check_gpu_workers(client, job_run.echo)
    _echo_dashboard(client, job_run.echo)
    progress = Progress(len(jobs), options.progress, options.tuning.progress_seconds)
    client.subscribe_topic(PROGRESS_TOPIC, lambda event: progress.event(event[1]))
    pending = iter(jobs)
    futures: dict[Any, VideoJob] = {}

    def submit(count: int) -> list[Any]:
        submitted = []
        for job in _take(pending, count):
            future = client.submit(
                extract_video,
                job,
                key=f"extract-{job.run[:8]}-{job.task.video_id}",
                retries=cluster.retries,
                resources=resources,
                pure=False,
            )
            futures[future] = job
            submitted.append(future)
        return submitted

    try:
        running = as_completed(submit(_in_flight(client)))
        for future in running:
            job = futures.pop(future)
            _record(_result(future, job.task), job_run, progress)
            running.update(submit(1))
    except KeyboardInterrupt:
        progress.close(final_line=False)
        client.cancel(list(futures))
        raise
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
        progress.close()


def _in_flight(client: Any) -> int:
    """Tasks to keep on the cluster: a few per worker thread (workers that join later add
    theirs as tasks finish)."""
    threads = sum(client.nthreads().values())
    return max(MIN_IN_FLIGHT, TASKS_PER_THREAD * threads)


def _take(items: Iterator[VideoJob], count: int) -> list[VideoJob]:
    taken = []
    for item in items:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _echo_dashboard(client: Any, echo: Echo) -> None:
    """The dashboard's address, when the scheduler serves a working one (it needs bokeh)."""
    with contextlib.suppress(Exception):
        services = client.scheduler_info().get("services", {})
        if "dashboard" in services and client.run_on_scheduler(dashboard_available):
            echo(f"dashboard: {client.dashboard_link}")


def _result(future: Any, task: VideoTask) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as err:  # a task that crashed its workers `retries` times
        return failure_record(task, err)


def _record(result: dict[str, Any], job_run: JobRun, progress: Progress) -> None:
    """One task's result in the summary, the index and on screen."""
    status, video_id = result.pop("status"), result["video_id"]
    summary = job_run.summary
    if status == "done":
        summary.done.append(video_id)
        job_run.index.add(result, job_run.options.pack)
    elif status == "skipped":
        summary.skipped.append(video_id)
        if "meta" in result:  # finished meanwhile, or by a killed run: indexed now
            job_run.index.add(result["meta"], result["layout"])
    elif status == "busy":
        summary.busy.append(result)
        progress.write(f"busy: {result['message']}")
    else:
        summary.failed.append(result)
        progress.write(f"failed: {result['path']}: {result['message']}")
    progress.finished(video_id, status in ("done", "skipped"), result.get("frames"))


def _check_visible(store: DatasetStore, summary: RunSummary) -> None:
    """ValueError when videos the workers finished are not in OUT as this client sees it (the
    workers wrote somewhere else: another machine's disk, another working directory)."""
    sample = random.sample(summary.done, min(VISIBILITY_SAMPLE, len(summary.done)))
    unseen = [vid for vid in sample if store.read_meta(vid) is None]
    if unseen:
        raise ValueError(
            f"the workers finished {len(summary.done)} videos, but this client does not see "
            f"them in {redact(store.url)} (e.g. {unseen[0]!r}): the workers write to another "
            "disk; give OUT as a path that they and this machine share, or an fsspec URL"
        )


def _start_manifest(store: DatasetStore, settings: ExtractSettings, plan: Plan) -> None:
    """flowpipe.json before any work: a run with other settings started later is refused."""
    manifest = store.read_manifest() or {"counts": {"videos": 0, "flows": 0, "failures": 0}}
    wanted = normalised(settings.as_dict())
    if manifest.get("settings") == wanted and manifest.get("classes") == plan.classes:
        return
    manifest.update(_identity_fields(settings, plan))
    store.write_manifest(manifest)


def _identity_fields(settings: ExtractSettings, plan: Plan) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "flowpipe_version": __version__,
        "settings": settings.as_dict(),
        "adopted": plan.output.adopted,
    }
    if plan.classes:
        fields["classes"] = plan.classes
    return fields


def _write_dataset_files(
    store: DatasetStore,
    settings: ExtractSettings,
    plan: Plan,
    summary: RunSummary,
    tasks: list[VideoTask],
) -> None:
    """videos.txt, failures.jsonl and flowpipe.json from the finished videos (their meta.json
    is the truth); with other runs' videos in OUT, all of them."""
    ids = {t.video_id for t in tasks} - {b["video_id"] for b in summary.busy}
    store.clear_failures(keep=lambda r: r.get("video_id") not in ids)
    for record in summary.failed:
        store.append_failure(record)
    finished = store.finished()
    rows = [(vid, int(m["flows"]), m.get("label")) for vid, m in sorted(finished.items())]
    if len({label is None for _, _, label in rows}) > 1:
        rows = [(vid, flows, None) for vid, flows, _ in rows]  # never blocks: labels dropped
    store.write_video_list(rows)
    sets = settings_sets(finished)
    manifest = {
        **_identity_fields(settings, plan),
        "counts": {
            "videos": len(finished),
            "flows": sum(r[1] for r in rows),
            "failures": len(store.read_failures()),
        },
    }
    if len(sets) > 1:
        manifest["mixed_settings"] = sets
    store.write_manifest(manifest)
