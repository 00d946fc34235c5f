"""JupyterHub for a lensfinder class: one server per student, the Voilà pages, one shared PostgreSQL store.

Run it from any folder (the hub keeps its own state there: ``jupyterhub.sqlite``, the cookie
secret, the proxy's pid file), with the project's Python environment active::

    export LENSFINDER_DB=postgresql://lensfinder:PASSWORD@db.example.org/lensfinder
    export LENSFINDER_HUB_PASSWORD='the class password'           # students, 8 characters or more
    export LENSFINDER_HUB_ADMIN_PASSWORD='the teacher password ...'  # hub admins, 32 characters or more
    jupyterhub -f deploy/jupyterhub/jupyterhub_config.py --ip 0.0.0.0 --port 8000

Students sign in with any name and the class password and land on the classify page; their hub
name is their identity in the store (``hub-<name>``).  The names in ``$LENSFINDER_HUB_TEACHERS``
(default ``teacher``) are hub admins and sign in with the admin password; their server opens on
the teacher's dashboard (``/user/<name>/voila/render/teacher.ipynb``), which needs no teacher key.
Expert graders are hub users the teacher names on that dashboard (kept in the store, read at each
page open; docs/grading.md): nothing to configure here, and no restart when the list changes.

Every choice below can be changed on the command line (``--Spawner.cmd=...``) or by editing
this file; the comments say why each is as it is.  docs/deploy.md has the measured figures and
what this setup does not protect against.
"""

import os
import sys
from pathlib import Path

from lensfinder_nb.settings import Settings

c = get_config()  # noqa: F821 (given by JupyterHub when it loads this file)

PROJECT = Path(__file__).resolve().parents[2]
# Read once here, from the same variables as every lensfinder command, so that the hub refuses to
# start on a malformed value instead of every student's page failing.
LENSFINDER = Settings.from_env()
if not str(LENSFINDER.db_path).startswith(("postgresql://", "postgres://")):
    # Each student's server is its own process (its own container on a real cluster): a DuckDB file
    # would be written by many machines at once, which its journal protocol does not cover.
    raise SystemExit("Set LENSFINDER_DB=postgresql://... : the class shares one PostgreSQL store")

# ------------------------------------------------------------------------------- who can sign in
# A shared class password is enough for a classroom and needs no accounts on the machine; a
# university replaces this with its single sign-on (e.g. oauthenticator, ldapauthenticator): the
# hub user name is all lensfinder needs, and admin_users keeps working with any authenticator.
c.JupyterHub.authenticator_class = "shared-password"
if not os.environ.get("LENSFINDER_HUB_PASSWORD"):
    raise SystemExit("Set LENSFINDER_HUB_PASSWORD (8 characters or more): the class password students sign in with")
c.SharedPasswordAuthenticator.user_password = os.environ["LENSFINDER_HUB_PASSWORD"]
c.SharedPasswordAuthenticator.admin_password = os.environ.get("LENSFINDER_HUB_ADMIN_PASSWORD", "")
TEACHERS = {name.strip() for name in os.environ.get("LENSFINDER_HUB_TEACHERS", "teacher").split(",") if name.strip()}
c.Authenticator.admin_users = TEACHERS
# Anyone with the class password may sign in (with a name of their choice): a class list is
# Authenticator.allowed_users instead.
c.Authenticator.allow_all = True

# ------------------------------------------------------------------------------- one server per student
# SimpleLocalProcessSpawner runs each student's server as a process of the hub's own OS user, with
# its own home folder: nothing to set up, and right for one classroom machine.  It isolates nothing
# (see docs/deploy.md); on a shared university hub use DockerSpawner, KubeSpawner or SystemdSpawner
# with an image that has this project installed, and keep the rest of this file.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.environ.get(
    "LENSFINDER_HUB_HOMES", str(Path.cwd() / "homes")) + "/{username}"
# The single-user server of this very Python environment, so that its kernels import lensfinder_nb.
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
# The pages are the project's apps/ folder, served read-only by Voilà as a server extension: the
# student lands on the classify page, and every page lives under /user/<name>/voila/render/.
c.Spawner.notebook_dir = str(PROJECT / "apps")
c.Spawner.default_url = "/voila/render/classify.ipynb"


def _teachers_land_on_the_dashboard(spawner) -> None:
    """A hub admin's server opens on the teacher's dashboard instead of the classify page."""
    if spawner.user.admin:
        spawner.default_url = "/voila/render/teacher.ipynb"


c.Spawner.pre_spawn_hook = _teachers_land_on_the_dashboard
c.Spawner.args = [
    # A closed or reloaded tab's kernel (~260 MB) is shut down as `lensfinder serve` does it:
    # Voilà does not stop it when the tab goes; an open tab is never culled.
    f"--MappingKernelManager.cull_idle_timeout={LENSFINDER.cull_idle_s}",
    f"--MappingKernelManager.cull_interval={LENSFINDER.cull_interval_s}",
    "--MappingKernelManager.cull_connected=False",
    # A student who left stops costing memory: the server exits after 10 idle minutes with no
    # kernel left, and the hub starts it again at the next sign-in (about 10 s, docs/deploy.md).
    "--ServerApp.shutdown_no_activity_timeout=600",
    # The class needs the pages only: no terminals.
    "--ServerApp.terminals_enabled=False",
    "--VoilaConfiguration.show_tracebacks=False",
]
if os.getuid() == 0:
    # SimpleLocalProcessSpawner keeps the hub's user; Jupyter refuses root unless told.
    c.Spawner.args.append("--allow-root")
# Sign-in to first page: starting a server and its first kernel takes seconds on a busy machine.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# What each server knows: the shared store, the data folder of the images, and whether its user is
# a hub admin (the hub sets it, from its own user record, when it starts the server).
c.Spawner.environment = {
    "LENSFINDER_DB": str(LENSFINDER.db_path),
    "LENSFINDER_DATA": str(LENSFINDER.data_dir),
    "LENSFINDER_HUB_ADMIN": lambda spawner: "1" if spawner.user.admin else "0",
}
# The hub's own secrets (the proxy's token) stay in the hub; the server needs only these.
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP"]

# ------------------------------------------------------------------------------- the hub and its proxy
# JupyterHub's own proxy, configurable-http-proxy (Node.js), from Debian's package
# node-configurable-http-proxy (`make jupyterhub`).  Debian's Node.js finds the package's modules in
# /usr/share/nodejs by itself; a Node.js from elsewhere needs to be told.
if Path("/usr/share/nodejs").is_dir():
    os.environ.setdefault("NODE_PATH", "/usr/share/nodejs")
# When the hub stops it stops the students' servers and its proxy too (JupyterHub's defaults, kept
# explicit: a class that ends leaves nothing running).
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
