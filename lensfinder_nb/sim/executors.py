"""Run independent tasks on local processes or a Dask cluster, yielding results as they complete."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

__all__ = ["run_batches"]


def run_batches(fn: Callable, tasks: Iterable, *, scheduler=None, workers: int = 2) -> Iterator:
    """Run ``fn(task)`` for every task; yields results as they complete (any order).

    ``scheduler``: None for local processes (``workers`` of them; 1 or 0 runs in this
    process), a Dask scheduler address ``"tcp://host:port"``, or a ``distributed.Client``.
    """
    tasks = list(tasks)
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(fn, tasks, scheduler)
    elif workers <= 1 or len(tasks) == 1:
        for task in tasks:
            yield fn(task)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = [pool.submit(fn, task) for task in tasks]
            for fut in as_completed(futures):
                yield fut.result()


def _run_dask(fn, tasks, scheduler):
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(str(scheduler), set_as_default=False)
    try:
        futures = client.map(fn, tasks, pure=False)
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        if client is not scheduler:
            client.close()
