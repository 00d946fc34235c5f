"""`lensfinder serve`: the Voilà pages on loopback, with idle kernels culled, stopped cleanly by any signal."""

from __future__ import annotations

import argparse
import signal
import time

from ..settings import option_help
from ._common import open_store_from

__all__ = ["register", "STOP_SIGNALS"]

#: signals that stop `lensfinder serve` in order: Voilà and its kernels first, then itself
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the Voilà apps (127.0.0.1 unless --ip; builds the demo data if the store is empty)",
                       description="Serve the pages with Voilà until stopped by Ctrl-C, SIGTERM or SIGHUP, which "
                                   "stop Voilà and its kernels before lensfinder exits.")
    p.add_argument("--ip", help=option_help("ip") + "; 0.0.0.0 serves a classroom's laptops on the local network")
    p.add_argument("--port", type=int, help=option_help("port"))
    p.add_argument("--pool-size", type=int, help=option_help("pool_size"))
    p.add_argument("--cull-idle-s", type=int, help=option_help("cull_idle_s"))
    p.add_argument("--cull-interval-s", type=int, help=option_help("cull_interval_s"))
    p.add_argument("--max-kernels", type=int, help=option_help("max_kernels"))
    p.add_argument("--no-demo", action="store_true", help="do not build the demo data when the store is empty")
    p.set_defaults(func=_serve)

    p = sub.add_parser("guide", help="build the field-guide pictures (lens types and look-alikes) if missing")
    p.set_defaults(func=_guide)


def _guide(args: argparse.Namespace) -> int:
    from ..sim.guide import ensure_guide
    entries = ensure_guide(args.settings.data_dir)
    print(f"field guide: {len(entries)} pictures in {args.settings.data_dir / 'guide'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..store import queries
    settings = args.settings
    store = open_store_from(args)
    if not args.no_demo and queries.count_subjects(store) == 0:
        from ..sim.demo import build_demo
        from ._common import progress
        print("The store is empty: building the demo data first.", flush=True)
        print(build_demo(store, seed=0, progress=progress), flush=True)
    from ..sim.guide import ensure_guide
    ensure_guide(settings.data_dir)
    from ..classify.identity import new_teacher_key
    from ..ui.server import VoilaServer
    from ..ui.network import exposure_notice, public_base
    base = public_base(settings.ip, settings.port)
    print(f"Serving lensfinder at {base}/voila/render/classify.ipynb  (tree: {base}/)  Ctrl-C stops.", flush=True)
    notice = exposure_notice(settings.ip, settings.port)
    if notice:
        print(notice, flush=True)
    print(f"Teacher's dashboard (keep this link private; a new one is made at each start): "
          f"{base}/voila/render/teacher.ipynb?key={new_teacher_key(store)}", flush=True)
    from dataclasses import replace
    from ..ui.kernels import KERNEL_MB
    from ..ui.server import max_kernels
    settings = replace(settings, max_kernels=max_kernels(settings))  # derived once, printed and used
    print(f"At most {settings.max_kernels} pages open at once (--max-kernels; about {KERNEL_MB} MB each); "
          "past that a page says the server is full.", flush=True)
    store.close()
    return _run_until_stopped(lambda: VoilaServer(settings))


def _run_until_stopped(start) -> int:
    """Run the server ``start()`` returns until it exits or a stop signal arrives; then stop it, kernels included."""
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: received.append(signum)) for sig in STOP_SIGNALS}
    server = None
    try:
        # The handlers only note the signal, so it can never interrupt the start half-way and
        # lose the handle on a Voilà that is already running.
        server = start()
        while not received and server.process.poll() is None:
            time.sleep(0.2)
        if not received:
            return server.process.returncode
        print(f"lensfinder: stopping the server ({signal.Signals(received[0]).name})", flush=True)
        return 0
    finally:
        if server is not None:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
