"""One settings object: built from values, then the environment, then defaults; only settings.py reads the environment."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

import lensfinder_nb
from lensfinder_nb.settings import PROJECT_ROOT, ClassSettings, Settings, SettingsError, describe
from lensfinder_nb.ui.pages import classify_page
from lensfinder_nb.ui.me import me_page

PACKAGE = Path(lensfinder_nb.__file__).parent


def _reads_environment(tree: ast.AST) -> list[int]:
    """Lines that touch os.environ / os.getenv / os.putenv, or import them from os."""
    names = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & names:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    offenders = {}
    for path in modules:
        lines = _reads_environment(ast.parse(path.read_text(), str(path)))
        if lines and path != PACKAGE / "settings.py":
            offenders[str(path.relative_to(PACKAGE))] = lines
    assert offenders == {}
    assert _reads_environment(ast.parse((PACKAGE / "settings.py").read_text()))  # the check sees a real read


def test_values_win_over_the_environment_which_wins_over_defaults(tmp_path):
    env = {"LENSFINDER_DB": str(tmp_path / "env.duckdb"), "LENSFINDER_FSYNC": "yes",
           "LENSFINDER_CUTOUT_URL": "http://127.0.0.1:9/viewer", "QUERY_STRING": "", "JUPYTERHUB_USER": ""}
    s = Settings.from_env(env)
    assert s.db_path == tmp_path / "env.duckdb" and s.fsync_votes is True
    assert s.cutout_url == "http://127.0.0.1:9/viewer"
    assert s.query_string == "" and s.hub_user is None  # an empty query string is a request without one
    s = Settings.from_env(env, db_path=tmp_path / "option.duckdb", fsync_votes=None, port=9001)
    assert s.db_path == tmp_path / "option.duckdb" and s.fsync_votes is True and s.port == 9001
    d = Settings.from_env({})
    assert (d.db_path, d.fsync_votes, d.cutout_url, d.port, d.pool_size, d.query_string) == \
        (Settings().db_path, False, None, 8866, 1, None)
    assert Settings.from_env({"LENSFINDER_DB": ""}).db_path == Settings().db_path
    proxies = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:1", "HTTPS_PROXY": "http://s:1",
               "no_proxy": "example.org,.local", "ftp_proxy": ""}
    assert Settings.from_env(proxies).proxies == {"http": "http://lower:1", "https": "http://s:1",
                                                  "no": "example.org,.local"}
    assert Settings.from_env({}).proxies is None


def test_bad_settings_are_user_errors_naming_the_variable():
    with pytest.raises(SettingsError, match=r"\$LENSFINDER_FSYNC='maybe'"):
        Settings.from_env({"LENSFINDER_FSYNC": "maybe"})
    with pytest.raises(SettingsError, match="port must be 1-65535"):
        Settings(port=70000)
    with pytest.raises(SettingsError, match="pool_size"):
        Settings(pool_size=-1)
    with pytest.raises(TypeError, match="unknown setting"):
        Settings.from_env({}, colour="blue")


def test_a_child_process_rebuilds_the_same_settings(tmp_path):
    s = Settings.from_env({}, db_path=tmp_path / "x.duckdb", fsync_votes=True, cutout_url="http://127.0.0.1:9")
    env = s.child_environment()
    assert env["LENSFINDER_DB"] == str(tmp_path / "x.duckdb") and env["LENSFINDER_FSYNC"] == "1"
    again = Settings.from_env(env)
    assert (again.db_path, again.fsync_votes, again.cutout_url) == (s.db_path, True, "http://127.0.0.1:9")
    assert "LENSFINDER_CUTOUT_URL" not in Settings.from_env({}).child_environment()


def test_every_setting_is_documented():
    for cls in (Settings, ClassSettings):
        for f in fields(cls):
            assert len(f.metadata.get("help", "")) > 15, f"{cls.__name__}.{f.name} has no help"
    rows = describe()
    assert {r["name"] for r in rows} >= {"db_path", "port", "classroom.feedback", "classroom.routing"}
    assert {r["env"] for r in rows} - {None} == {"LENSFINDER_DB", "LENSFINDER_FSYNC", "LENSFINDER_TRACEBACK",
                                                 "LENSFINDER_CUTOUT_URL", "http_proxy, https_proxy, no_proxy",
                                                 "QUERY_STRING", "JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX",
                                                 "LENSFINDER_HUB_ADMIN", "LENSFINDER_DATA",
                                                 "LENSFINDER_MODEL_PARTICLES", "LENSFINDER_MODEL_ITERATIONS",
                                                 "LENSFINDER_LIVE_SCORES"}


def test_class_settings_are_checked_once_and_round_trip_through_the_store(store):
    assert ClassSettings.load(store) == ClassSettings()
    assert ClassSettings(training_rate_scale=9).training_rate_scale == 2.0
    assert ClassSettings(training_rate_scale=0.1).training_rate_scale == 0.5
    assert ClassSettings(training_rate_scale=1.234).training_rate_scale == 1.23
    changed = ClassSettings().with_value("routing", 1).with_value("training_rate_scale", "1.5")
    assert (changed.routing, changed.training_rate_scale) == (True, 1.5)
    changed.save(store, "routing")
    assert ClassSettings.load(store) == ClassSettings(routing=True)  # only the named setting was stored
    changed.save(store)
    assert ClassSettings.load(store) == changed
    with pytest.raises(KeyError):
        ClassSettings().with_value("colour", "blue")
    store.set_setting("training_rate_scale", "lots")  # written by hand: unusable, so the defaults apply
    assert ClassSettings.load(store) == ClassSettings()


def test_pages_use_the_settings_they_are_given_and_the_class_settings_of_the_store(store):
    store.set_setting("feedback", False)
    store.set_setting("training_rate_scale", 5)
    frame = classify_page(query="", settings=Settings.from_env({}, db_path=store.path))
    assert frame.store.path == store.path and frame.settings.classroom.feedback is False
    frame.body.children[-1].children[0].value = "Settings Person"
    assert frame.view.show_feedback is False and frame.session.rate_scale == 2.0
    hub = me_page("", settings=Settings.from_env({"JUPYTERHUB_USER": "grace"}, db_path=store.path))
    assert hub.identity.user_id == "hub-grace"


def test_a_postgresql_store_reads_images_from_the_data_folder(tmp_path):
    url = "postgresql://lf@127.0.0.1:5432/lf"
    assert Settings.from_env({}, db_path=url).data_dir == PROJECT_ROOT / "data"
    assert Settings.from_env({"LENSFINDER_DATA": str(tmp_path)}, db_path=url).data_dir == tmp_path
    # a DuckDB file keeps its images beside it, whatever the data folder says
    assert Settings.from_env({"LENSFINDER_DATA": str(tmp_path)}, db_path=tmp_path / "x" / "lf.duckdb").data_dir \
        == tmp_path / "x"
