"""A cap on the kernels of the Voilà server: past it, a new page gets "the server is full" and no kernel.

Every open page is a kernel (a Python process), so a class that opens and reloads pages faster
than idle kernels are culled would run the server out of memory.  :class:`CappedKernelManager`
is the kernel manager Voilà runs (``--VoilaConfiguration.multi_kernel_manager_class``): it
refuses to start a kernel once ``max_kernels`` are running or starting, by raising
:class:`ServerFull`, an HTTP 503 that Voilà renders with the ``lensfinder`` template's
``503.html`` (in every language; the page picks the person's from ``?lang=``).  Kernels already
running are untouched.  Pre-started (pool) kernels count too: each costs its memory.  When a
kernel is shut down (a culled tab), a pool that could not be refilled for want of room is
refilled.

This module runs inside the Voilà server process, so it imports only what Voilà already has.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import parse_qs

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Int

from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator

__all__ = ["CappedKernelManager", "ServerFull", "TEMPLATE", "TEMPLATE_ROOT", "KERNEL_MB", "RESERVE_MB",
           "default_max_kernels", "full_page_texts"]

#: the Voilà template that adds the "server is full" page to Voilà's lab template
TEMPLATE = "lensfinder"
#: a Jupyter data folder (for $JUPYTER_PATH) holding ``voila/templates/lensfinder``
TEMPLATE_ROOT = Path(__file__).resolve().parent / "share"
#: memory one classify kernel adds (its PSS: 90-130 MB measured in a class, with a margin; benchmarks/README.md)
KERNEL_MB = 150
#: memory kept for Voilà, the store's folding and the system when the cap is derived from memory
RESERVE_MB = 1024


def default_max_kernels(available_mb: float | None = None) -> int:
    """The kernel cap for the memory available now: ``(available - RESERVE_MB) / KERNEL_MB``, at least 2.

    >>> default_max_kernels(4096)
    20
    """
    if available_mb is None:
        import psutil
        available_mb = psutil.virtual_memory().available / 2**20
    return max(2, int((available_mb - RESERVE_MB) // KERNEL_MB))


def full_page_texts() -> dict[str, dict[str, str]]:
    """The "server is full" page's title and message in every language."""
    return {lang: {"title": Translator(lang)("server.full_title"), "message": Translator(lang)("server.full")}
            for lang in LANGUAGES}


def _language(env: dict | None) -> str:
    """The page's language from the request's query string in the kernel's environment (``?lang=``)."""
    query = parse_qs((env or {}).get("QUERY_STRING", ""))
    lang = (query.get("lang") or [DEFAULT_LANGUAGE])[0]
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


class ServerFull(HTTPError):
    """No room for another kernel: HTTP 503, shown as the "server is full, try again in a minute" page."""

    def __init__(self, max_kernels: int, lang: str = DEFAULT_LANGUAGE) -> None:
        super().__init__(503, "server full: %d kernels running", max_kernels)
        self.lang = lang
        self.texts = full_page_texts()


class CappedKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with at most ``max_kernels`` kernels running or starting (0: no cap)."""

    max_kernels = Int(0, config=True, help="most kernels running or starting at once; 0: no cap")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._starting: set[str] = set()
        self._closing = False

    def kernel_count(self) -> int:
        """Kernels running or being started."""
        return len(set(self.list_kernel_ids()) | self._starting)

    async def start_kernel(self, *args, **kwargs) -> str:
        kernel_id = kwargs.get("kernel_id")
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(*args, **kwargs)  # an existing kernel: no new process
        if self.max_kernels > 0 and self.kernel_count() >= self.max_kernels:
            self.log.warning("lensfinder: %d kernels running, the cap: a page gets 'server full'", self.max_kernels)
            raise ServerFull(self.max_kernels, _language(kwargs.get("env")))
        # Our own id, so a kernel being started is counted exactly once until it runs.
        kernel_id = kwargs["kernel_id"] = kernel_id or str(uuid.uuid4())
        self._starting.add(kernel_id)
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting.discard(kernel_id)

    async def shutdown_kernel(self, kernel_id: str, *args, **kwargs) -> None:
        result = await super().shutdown_kernel(kernel_id, *args, **kwargs)
        if not self._closing:
            self._refill_pools()
        return result

    async def shutdown_all(self, *args, **kwargs) -> None:
        self._closing = True  # never refill a pool while the server stops
        return await super().shutdown_all(*args, **kwargs)

    def _refill_pools(self) -> None:
        # Voilà's pre-heat pools (voila.voila_kernel_manager, present only with --preheat_kernel)
        # keep a start refused for want of room as a failed task and never refill it: drop those
        # and refill now that a kernel is gone.
        pools = getattr(self, "_pools", None)
        if not pools or not hasattr(self, "fill_if_needed"):
            return
        for name, pool in pools.items():
            failed = [task for task in pool if task.done() and (task.cancelled() or task.exception() is not None)]
            for task in failed:
                pool.remove(task)
            self.fill_if_needed(delay=0, notebook_name=name)
