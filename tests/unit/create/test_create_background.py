"""The pipeline's background tasks, with fake steps and tasks: a task starts after the step
that starts it, runs beside the next ones, and a failed task ends the create with its own
error as soon as a step ends; the real declaration names only real steps and tasks."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest
from memory_engine import MemoryEngine, context

from nestkube.config import default_config
from nestkube.create import checks, pipeline, plan
from nestkube.create.context import CreateContext
from nestkube.errors import ClusterError
from nestkube.status import SILENT


@pytest.fixture(autouse=True)
def no_host_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(checks, "preflight", lambda ctx: None)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


class FakeTask:
    """A task in a thread that ends when ``release`` is set, failing with ``error`` if given."""

    def __init__(self, log: list[str], error: Exception | None = None) -> None:
        self.log, self.error = log, error
        self.release, self.ended = threading.Event(), threading.Event()
        self.future: Future[None] = Future()

    def start(self, ctx: CreateContext) -> None:
        self.log.append("start task")

        def run() -> None:
            self.release.wait(10)
            if self.error is not None:
                self.future.set_exception(self.error)
            else:
                self.log.append("task done")
                self.future.set_result(None)
            self.ended.set()

        threading.Thread(target=run, daemon=True).start()

    def raise_if_failed(self, ctx: CreateContext) -> None:
        if self.future.done():
            self.future.result()

    def finish(self, ctx: CreateContext) -> None:
        self.future.result()
        self.log.append("finish task")

    def stop(self, ctx: CreateContext) -> None:
        self.log.append("stop task")
        self.release.set()


def use(monkeypatch: pytest.MonkeyPatch, log: list[str], task: FakeTask) -> None:
    """Steps first, second, third; the task started by first ends while second runs."""

    def step(name: str) -> pipeline.Action:
        def action(ctx: CreateContext) -> None:
            log.append(name)
            if name == "second":
                task.release.set()
                task.ended.wait(10)

        return action

    monkeypatch.setattr(
        pipeline,
        "steps",
        lambda ctx: [pipeline.Step(n, step(n)) for n in ("first", "second", "third")],
    )
    monkeypatch.setattr(
        pipeline,
        "background",
        lambda ctx: [
            pipeline.Background(
                "task",
                started_by=("first",),
                awaited_by=(pipeline.END,),
                start=task.start,
                raise_if_failed=task.raise_if_failed,
                finish=task.finish,
                stop=task.stop,
            )
        ],
    )


def test_a_task_starts_after_its_step_and_create_ends_once_it_has(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log: list[str] = []
    use(monkeypatch, log, FakeTask(log))
    pipeline.run(context(MemoryEngine(), "bg1", tmp_path / "config"))
    assert log == ["first", "start task", "second", "task done", "third", "finish task"]


def test_a_failed_task_fails_create_with_its_own_error_at_the_next_step_end(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log: list[str] = []
    error = ClusterError("creating worker bg2-worker failed: its own reason")
    use(monkeypatch, log, FakeTask(log, error))
    engine = MemoryEngine()
    with pytest.raises(ClusterError) as err:
        pipeline.run(context(engine, "bg2", tmp_path / "config"))
    assert err.value is error
    # The third step never ran; the task was stopped before the cleanup, which left nothing.
    assert log == ["first", "start task", "second", "stop task"]
    assert engine.nodes == {} and engine.networks == set()


def test_the_real_tasks_name_real_steps_and_tasks_and_start_in_step_order() -> None:
    ctx = CreateContext(
        config=default_config("bg3", workers=2, control_planes=2),
        provider=MemoryEngine(),
        status=SILENT,
    )
    plan.plan_nodes(ctx, "img")
    order = [s.name for s in pipeline.steps(ctx) if s.needed(ctx)]
    tasks = pipeline.background(ctx)
    names = {t.name for t in tasks}
    for task in tasks:
        for where in (*task.started_by, *task.awaited_by):
            assert where in order or where in names or where == pipeline.END, where
        # A task the pipeline starts is started after a step, which comes before its waiters.
        if task.start is not None:
            first = order.index(task.started_by[0])
            assert all(order.index(w) > first for w in task.awaited_by if w in order)
    assert [t.name for t in tasks] == [
        pipeline.WORKERS,
        pipeline.JOINS,
        pipeline.CLUSTER_OBJECTS,
        pipeline.SERVICE_LB,
    ]
    # The workers start after the control planes are set up, and before init.
    assert order.index(pipeline.BOOT) < order.index(pipeline.INIT)
    assert tasks[0].started_by == (pipeline.BOOT,)
