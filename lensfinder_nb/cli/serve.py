"""`lensfinder serve`: the Voilà pages on loopback, with idle kernels culled."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from ..settings import PROJECT_ROOT
from ._common import add_db_option, db_path_from, open_store_from

__all__ = ["register", "voila_command"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the Voilà apps on 127.0.0.1 (builds the demo data if the store is empty)")
    p.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866)")
    p.add_argument("--pool-size", type=int, default=1,
                   help="pre-started kernels for the classify page (0 to disable; each costs its memory)")
    p.add_argument("--cull-idle-s", type=int, default=900, help="shut kernels down after this many idle seconds")
    p.add_argument("--no-demo", action="store_true", help="do not build the demo data when the store is empty")
    add_db_option(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser("guide", help="build the field-guide pictures (lens types and look-alikes) if missing")
    add_db_option(p)
    p.set_defaults(func=_guide)


def _guide(args: argparse.Namespace) -> int:
    from ..sim.guide import ensure_guide
    entries = ensure_guide(db_path_from(args).parent)
    print(f"field guide: {len(entries)} pictures in {db_path_from(args).parent / 'guide'}")
    return 0


def voila_command(port: int, *, pool_size: int = 1, cull_idle_s: int = 900) -> list[str]:
    """The Voilà command line for the apps folder (tree mode: every page under /voila/render/)."""
    cmd = [sys.executable, "-m", "voila", "apps", f"--port={port}", "--no-browser",
           "--Voila.ip=127.0.0.1",
           f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
           "--MappingKernelManager.cull_interval=60",
           "--MappingKernelManager.cull_connected=False",
           "--VoilaConfiguration.show_tracebacks=False"]
    if pool_size > 0:
        # Only the classify page gets pre-started kernels: each costs its full memory.
        pools = json.dumps({"classify.ipynb": {"pool_size": pool_size}, "default": {"pool_size": 0}})
        cmd += ["--preheat_kernel=True", f"--pool_size={pool_size}",
                f"--VoilaKernelManager.kernel_pools_config={pools}"]
    return cmd


def _serve(args: argparse.Namespace) -> int:
    from ..store import queries
    store = open_store_from(args)
    if not args.no_demo and queries.count_subjects(store) == 0:
        from ..sim.demo import build_demo
        from ._common import progress
        print("The store is empty: building the demo data first.", flush=True)
        print(build_demo(store, seed=0, progress=progress), flush=True)
    from ..sim.guide import ensure_guide
    ensure_guide(store.settings.data_dir)
    env = dict(os.environ, LENSFINDER_DB=str(db_path_from(args)))
    url = f"http://127.0.0.1:{args.port}/voila/render/classify.ipynb"
    print(f"Serving lensfinder at {url}  (tree: http://127.0.0.1:{args.port}/)  Ctrl-C stops.", flush=True)
    from ..classify.identity import new_teacher_key
    print(f"Teacher's dashboard (keep this link private; a new one is made at each start): "
          f"http://127.0.0.1:{args.port}/voila/render/teacher.ipynb?key={new_teacher_key(store)}", flush=True)
    proc = subprocess.Popen(voila_command(args.port, pool_size=args.pool_size, cull_idle_s=args.cull_idle_s),
                            cwd=PROJECT_ROOT, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=20)
        return 0
