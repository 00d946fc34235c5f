"""One settings object for every entry point: explicit values, then the environment, then defaults.

Each entry point builds one :class:`Settings` with :meth:`Settings.from_env` and passes it
down: ``lensfinder`` (``cli.main``, from its options), each Voilà page (``ui.frame.open_page``,
which adds the teacher's :class:`ClassSettings` from the store) and the notebooks.  This is the
only module of the package that reads the environment (a test checks it).  Every field has a
help text and, where there is one, its environment variable: :func:`describe` lists them and
``lensfinder settings`` prints them with their current values.

>>> s = Settings.from_env({"LENSFINDER_FSYNC": "1"}, port=9000)
>>> s.fsync_votes, s.port, s.pool_size
(True, 9000, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .errors import InvalidInput

__all__ = ["Settings", "ClassSettings", "SettingsError", "describe", "option_help", "PROJECT_ROOT", "DEFAULT_DB_PATH"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "lensfinder.duckdb"
_PROXY_VARIABLES = "http_proxy, https_proxy, no_proxy"


class SettingsError(InvalidInput):
    """A setting that cannot be used (a malformed environment variable, a port out of range...)."""


# ---------------------------------------------------------------------- parsing environment values
def _path(text: str) -> Path:
    return Path(text).expanduser().resolve()


def is_database_url(text: object) -> bool:
    """Whether ``text`` names a PostgreSQL server (``postgresql://...``) rather than a DuckDB file."""
    return isinstance(text, str) and text.startswith(("postgresql://", "postgres://"))


def _store_location(text: str) -> Path | str:
    # A PostgreSQL URL stays text (a Path would fold its "//"); anything else is a file path.
    return text if is_database_url(text) else _path(text)


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _text(text: str) -> str:
    return text


def _setting(default: Any, help: str, *, env: str | None = None, parse: Callable[[str], Any] | None = _text,
             request: bool = False, keep_empty: bool = False, hashed: bool = True) -> Any:
    """A dataclass field with its documentation.

    ``env``: the environment variable read by :meth:`Settings.from_env` (an empty value counts as
    unset unless ``keep_empty``); ``request``: the value belongs to one page request and is not
    handed on to child processes (Voilà and its kernels).
    """
    return field(default=default, hash=None if hashed else False,
                 metadata={"help": help, "env": env, "parse": parse, "request": request, "keep_empty": keep_empty})


class _SettingsTable(Protocol):
    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...


# ---------------------------------------------------------------------- the teacher's class settings
@dataclass(frozen=True)
class ClassSettings:
    """What the teacher sets for the class (the ``settings`` table of the store, edited on the dashboard).

    Values are checked and clamped here, once: ``ClassSettings(training_rate_scale=9)`` holds 2.0.
    """

    feedback: bool = _setting(True, "show right/wrong after a vote on a training subject")
    training_rate_scale: float = _setting(
        1.0, "multiplier on the share of training subjects served, clamped to 0.5-2 (0.1 steps on the dashboard)")
    routing: bool = _setting(False, "send hard subjects to skilled volunteers first (machine routing)")

    TRAINING_RATE_RANGE: ClassVar[tuple[float, float]] = (0.5, 2.0)

    def __post_init__(self) -> None:
        lo, hi = self.TRAINING_RATE_RANGE
        try:
            rate = round(min(max(float(self.training_rate_scale), lo), hi), 2)
        except (TypeError, ValueError):
            raise SettingsError(f"training_rate_scale must be a number, got {self.training_rate_scale!r}") from None
        object.__setattr__(self, "training_rate_scale", rate)
        object.__setattr__(self, "feedback", bool(self.feedback))
        object.__setattr__(self, "routing", bool(self.routing))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def load(cls, store: _SettingsTable) -> ClassSettings:
        """The stored class settings; a missing (or unusable) value gives its default."""
        defaults = cls()
        try:
            return cls(**{name: store.get_setting(name, getattr(defaults, name)) for name in cls.names()})
        except SettingsError:
            return defaults

    def with_value(self, name: str, value: Any) -> ClassSettings:
        """A copy with one setting changed (checked and clamped); KeyError for an unknown name."""
        if name not in self.names():
            raise KeyError(f"unknown class setting {name!r}")
        return replace(self, **{name: value})

    def save(self, store: _SettingsTable, *names: str) -> None:
        """Store the named settings (all when none are named)."""
        for name in names or self.names():
            if name not in self.names():
                raise KeyError(f"unknown class setting {name!r}")
            store.set_setting(name, getattr(self, name))


# ---------------------------------------------------------------------- the settings of one process
@dataclass(frozen=True)
class Settings:
    """Paths and knobs shared by the CLI, the pages and the notebooks; build with :meth:`from_env`."""

    # the store
    db_path: Path | str = _setting(DEFAULT_DB_PATH, "the store: a DuckDB file (images, cubes and vote journals "
                                   "live beside it) or a shared PostgreSQL server, postgresql://user@host/db "
                                   "(images and cubes then live in data_folder)",
                                   env="LENSFINDER_DB", parse=_store_location)
    data_folder: Path | None = _setting(None, "the folder of images and cubes of a PostgreSQL store (unset: data/ "
                                        "of the project); a DuckDB file keeps them beside it. Servers without a "
                                        "common disk each need a copy or a read-only share of it",
                                        env="LENSFINDER_DATA", parse=_path)
    fsync_votes: bool = _setting(False, "fsync every vote, so a vote survives power loss and not only a killed "
                                 "process (costs a disk flush per vote)", env="LENSFINDER_FSYNC", parse=_flag)
    fold_interval_s: float = _setting(1.0, "seconds between background folds of the vote journals into DuckDB")
    live_scores: bool = _setting(True, "keep the stored SWAP scores (retirement, the teacher's candidates) up to "
                                 "date as votes arrive: after each fold on DuckDB, in a background thread on "
                                 "PostgreSQL", env="LENSFINDER_LIVE_SCORES", parse=_flag)
    lock_timeout_s: float = _setting(60.0, "seconds a caller waits for a busy store before a clear 'busy' error")
    # the command line
    cli_traceback: bool = _setting(False, "lensfinder: show the full traceback of an error a person can fix, "
                                   "instead of one line", env="LENSFINDER_TRACEBACK", parse=_flag)
    # real sky
    cutout_url: str | None = _setting(None, "the cutout service `lensfinder fetch` asks (unset: the public Legacy "
                                      "Survey viewer)", env="LENSFINDER_CUTOUT_URL")
    proxies: Mapping[str, str] | None = _setting(
        None, "web proxies by URL scheme for downloads, and 'no' for hosts reached directly, from the usual "
        "$http_proxy, $https_proxy, $no_proxy (either case; unset: direct)",
        env=_PROXY_VARIABLES, parse=None, hashed=False)
    # the Voilà server (`lensfinder serve`, and the browser tests)
    ip: str = _setting("127.0.0.1", "address the Voilà server listens on (loopback: put a proxy in front to "
                       "share it)")
    port: int = _setting(8866, "port of the Voilà server", parse=int)
    pool_size: int = _setting(1, "kernels kept pre-started for the classify page (0: none; each costs its memory)",
                              parse=int)
    cull_idle_s: int = _setting(90, "shut down a page's kernel once no tab has been connected to it and it has "
                                "been idle this many seconds (Voilà does not shut down the kernels of closed or "
                                "reloaded tabs; open tabs are never culled)", parse=int)
    cull_interval_s: int = _setting(20, "seconds between checks for idle kernels", parse=int)
    max_kernels: int = _setting(0, "most kernels (open pages, pre-started ones included) at once; a page opened "
                                "past it gets 'the server is full, try again in a minute' and no kernel "
                                "(0: derived at start from the memory available, (available - 1 GB) / 150 MB "
                                "per kernel)", parse=int)
    page_tracebacks: bool = _setting(False, "show Python tracebacks on the pages (for debugging; a class sees "
                                     "a plain message)")
    # the modelling page's Refine (lenstronomy's particle swarm; modelling.fit.PSO_PARTICLES / PSO_ITERATIONS)
    refine_particles: int = _setting(24, "modelling page: particles of Refine's swarm, per stage and theta_E start "
                                     "(fewer: faster, rougher)", env="LENSFINDER_MODEL_PARTICLES", parse=int)
    refine_iterations: int = _setting(40, "modelling page: iterations of Refine's swarm, per stage and theta_E start",
                                      env="LENSFINDER_MODEL_ITERATIONS", parse=int)
    # one page request (set by Voilà / JupyterHub in the kernel's environment)
    query_string: str | None = _setting(None, "page: the request's query string (untrusted); unset in a "
                                        "pre-started kernel, which asks Voilà for it",
                                        env="QUERY_STRING", request=True, keep_empty=True)
    hub_user: str | None = _setting(None, "page: the JupyterHub user name, trusted as the person's identity",
                                    env="JUPYTERHUB_USER", request=True)
    hub_prefix: str = _setting("/", "page: the URL prefix of this person's server on JupyterHub (/user/<name>/), "
                               "which the pages' links start with", env="JUPYTERHUB_SERVICE_PREFIX", request=True)
    hub_admin: bool = _setting(False, "page: the JupyterHub user is a hub admin, whose teacher page needs no key "
                               "(set by the hub for each server: deploy/jupyterhub/jupyterhub_config.py)",
                               env="LENSFINDER_HUB_ADMIN", parse=_flag, request=True)
    # the class
    classroom: ClassSettings = _setting(ClassSettings(), "the teacher's class settings; pages load them from "
                                        "the store (ClassSettings.load)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "db_path", _store_location(str(self.db_path)))
        if self.data_folder is not None:
            object.__setattr__(self, "data_folder", _path(str(self.data_folder)))
        if not str(self.hub_prefix).startswith("/"):
            raise SettingsError(f"hub_prefix must start with '/', got {self.hub_prefix!r}")
        for name, low in (("fold_interval_s", 0.0), ("lock_timeout_s", 0.0)):
            if not float(getattr(self, name)) > low:
                raise SettingsError(f"{name} must be a positive number of seconds, got {getattr(self, name)!r}")
        if not 1 <= int(self.port) <= 65535:
            raise SettingsError(f"port must be 1-65535, got {self.port!r}")
        for name in ("refine_particles", "refine_iterations"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"{name} must be 1 or more, got {getattr(self, name)!r}")
        for name in ("pool_size", "cull_idle_s", "cull_interval_s", "max_kernels"):
            if int(getattr(self, name)) < 0:
                raise SettingsError(f"{name} must be 0 or more, got {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **values: Any) -> Settings:
        """Settings from ``values`` (``None`` means not given), else the environment, else the defaults.

        ``environ`` defaults to ``os.environ``; a malformed variable raises :class:`SettingsError`
        naming it.
        """
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
        chosen = {}
        for name, f in known.items():
            if values.get(name) is not None:
                chosen[name] = values[name]
                continue
            if name == "proxies":
                chosen[name] = _proxies(env)
                continue
            var = f.metadata.get("env")
            raw = env.get(var) if var else None
            if raw is None or (raw == "" and not f.metadata["keep_empty"]):
                continue
            try:
                chosen[name] = f.metadata["parse"](raw)
            except ValueError as exc:
                raise SettingsError(f"${var}={raw!r}: {exc}") from None
        return cls(**chosen)

    @property
    def data_dir(self) -> Path:
        """Folder of the store; images and cubes are referenced relative to it (for a PostgreSQL store
        ``data_folder``, else ``data/`` of the project)."""
        if is_database_url(self.db_path):
            return self.data_folder if self.data_folder is not None else _path(str(DEFAULT_DB_PATH)).parent
        return self.db_path.parent

    def with_classroom(self, store: _SettingsTable) -> Settings:
        """These settings with the class settings stored in ``store``."""
        return replace(self, classroom=ClassSettings.load(store))

    def child_environment(self) -> dict[str, str]:
        """The environment for a child process (Voilà, its kernels) that rebuilds these settings.

        The current environment, with every setting that has a variable set from this object
        (or removed when unset); the per-request ones (query string, JupyterHub user) are left as they are.
        """
        env = dict(os.environ)
        for f in fields(self):
            var = f.metadata.get("env")
            if not var or f.metadata["request"] or f.name == "proxies":  # proxies: the standard variables stay
                continue
            value = getattr(self, f.name)
            if value is None:
                env.pop(var, None)
            else:
                env[var] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return env


def _proxies(env: Mapping[str, str]) -> dict[str, str] | None:
    """``{"http": url, "https": url, "no": "host,..."}`` from ``<scheme>_proxy`` variables, lower case first.

    As :func:`urllib.request.getproxies_environment` reads them, but from ``env``.
    """
    found: dict[str, str] = {}
    for lower_first in (False, True):
        for key, value in env.items():
            if value and key.lower().endswith("_proxy") and (key.islower() == lower_first):
                found[key[:-len("_proxy")].lower()] = value
    return found or None


def describe(settings: Settings | None = None) -> list[dict[str, Any]]:
    """One row per setting: name, value (of ``settings``, else the default), environment variable, help."""
    settings = settings or Settings()
    rows = []
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, ClassSettings):
            for g in fields(ClassSettings):
                rows.append({"name": f"classroom.{g.name}", "value": getattr(value, g.name), "env": None,
                             "help": g.metadata["help"] + " (teacher's dashboard)"})
            continue
        rows.append({"name": f.name, "value": value, "env": f.metadata["env"], "help": f.metadata["help"]})
    return rows


def option_help(name: str) -> str:
    """The help text of setting ``name``, for a CLI option that sets it."""
    f = {f.name: f for f in fields(Settings)}[name]
    var = f"${f.metadata['env']}, else " if f.metadata["env"] else ""
    default = "" if f.default is None else f"{var}{f.default}"
    return f"{f.metadata['help']}" + (f" (default: {default})" if default else "")
