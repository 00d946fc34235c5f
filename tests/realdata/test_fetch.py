"""The cutout-service client against a loopback server that serves real-layout cubes and injects faults."""

from __future__ import annotations

import io
import socket
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from lensfinder_nb import cli
from lensfinder_nb.realdata.fetch import FetchUnavailable, cutout_url, fetch_cutouts, read_catalog
from lensfinder_nb.settings import Settings
from lensfinder_nb.store import open_store
from lensfinder_nb.store.tables import TableError

PIXSCALE = 0.262


def cube_bytes(ra: float, dec: float, size: int, bands: str = "grz", pixscale: float = PIXSCALE) -> bytes:
    """A cutout in the service's layout: float32 (band, size, size) nanomaggies, TAN WCS centred on (ra, dec)."""
    rng = np.random.default_rng(int(ra * 1e4) % 2**32)
    sigma = np.array([0.003, 0.006, 0.013, 0.01][:len(bands)], dtype=np.float32)[:, None, None]
    data = (rng.normal(size=(len(bands), size, size)).astype(np.float32) * sigma).astype(np.float32)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    data += np.float32(0.5) * np.exp(-(xx**2 + yy**2) / 18.0).astype(np.float32)
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRVAL1"], h["CRVAL2"] = ra, dec
    h["CRPIX1"] = h["CRPIX2"] = (size + 1) / 2
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -pixscale / 3600, 0.0, 0.0, pixscale / 3600
    h["BANDS"] = bands
    for i, b in enumerate(bands):
        h[f"BAND{i}"] = b
    buf = io.BytesIO()
    fits.PrimaryHDU(data, header=h).writeto(buf)
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        if srv.gone:  # shut down: hang up on kept-alive connections too
            self.close_connection = True
            return
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        with srv.lock:
            srv.log.append((url.path, q))
            key = (url.path, q.get("ra"))
            srv.counts[key] += 1
            faults = srv.faults.get(round(float(q["ra"]), 4) if "ra" in q else None, [])
            fault = faults[srv.counts[key] - 1] if srv.counts[key] <= len(faults) else None
        if "ra" not in q or "dec" not in q or fault == "400":
            return self._send(400, b"ra and dec are required", "text/plain")
        if fault in ("500", "429", "404"):
            return self._send(int(fault), b"try again later" if fault == "429" else b"server error", "text/plain")
        if fault == "html":  # a 200 that is not a cutout (an error page, a captive portal)
            return self._send(200, b"<html><body>Service temporarily unavailable</body></html>", "text/html")
        if fault == "slow":
            time.sleep(srv.slow_s)
        size = int(q.get("size", 256))
        if url.path.endswith("cutout.jpg"):
            from PIL import Image
            buf = io.BytesIO()
            Image.new("RGB", (size, size), (40, 60, 90)).save(buf, format="JPEG")
            body = buf.getvalue()
        else:
            body = cube_bytes(float(q["ra"]), float(q["dec"]), size, q.get("bands", "grz"))
        if fault == "trunc":  # announces the full length, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        if fault in ("trunc-nolength", "half-nolength"):  # no length header: only the FITS or JPEG check can tell
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) - 5000] if fault == "trunc-nolength" else body[: len(body) // 2])
            self.close_connection = True
            return
        self._send(200, body, "application/fits")

    def _send(self, code, body, ctype):
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out test)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that timed out is expected here
        pass


@pytest.fixture
def service():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.lock, srv.log, srv.counts, srv.faults, srv.slow_s = threading.Lock(), [], Counter(), {}, 0.8
    srv.gone = False
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/viewer"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _catalog(n: int, ra0: float = 150.0) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"obj{i}" for i in range(n)], "ra": [ra0 + i * 0.01 for i in range(n)],
                         "dec": [2.0 + i * 0.01 for i in range(n)], "label": [1, 0, -1, 0, 1, -1][:n]})


def _closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/viewer"


def test_downloads_real_layout_then_resumes_from_cache(service, tmp_path):
    cat = _catalog(6)
    ticks = []
    report = fetch_cutouts(cat, tmp_path, size=64, base_url=service.url, workers=3, backoff_s=0.01,
                           progress=lambda it, **kw: (ticks.append(kw["total"]), it)[1])
    assert ticks == [5]                                # the first download runs alone, as a probe
    assert sorted(report.downloaded) == sorted(cat["name"]) and report.failed == []
    assert report.requests == 6 and report.retries == 0
    with fits.open(tmp_path / "obj2.fits") as hdul:
        assert hdul[0].data.shape == (3, 64, 64) and hdul[0].data.dtype.kind == "f" and hdul[0].data.dtype.itemsize == 4
        assert hdul[0].header["BANDS"] == "grz"
        assert hdul[0].header["CRVAL1"] == pytest.approx(150.02)
    q = service.log[0][1]
    assert q["layer"] == "ls-dr9" and q["bands"] == "grz" and q["size"] == "64" and q["pixscale"] == "0.262"

    again = fetch_cutouts(cat, tmp_path, size=64, base_url=service.url, backoff_s=0.01)
    assert sorted(again.cached) == sorted(cat["name"]) and again.requests == 0 and len(service.log) == 6

    # An interrupted write (left as a hidden part file) and a half file under the final name do not count.
    (tmp_path / ".obj4.fits.123.part").write_bytes(b"SIMPLE  =" + b" " * 100)
    (tmp_path / "obj5.fits").write_bytes((tmp_path / "obj5.fits").read_bytes()[:9000])
    (tmp_path / "obj4.fits").unlink()
    third = fetch_cutouts(cat, tmp_path, size=64, base_url=service.url, backoff_s=0.01)
    assert sorted(third.downloaded) == ["obj4", "obj5"] and third.requests == 2
    assert len(fits.getdata(tmp_path / "obj5.fits")) == 3


def test_retries_transient_faults_but_not_bad_requests(service, tmp_path):
    cat = _catalog(6)
    ra = [round(r, 4) for r in cat["ra"]]
    service.faults = {ra[0]: ["500", "500"], ra[1]: ["trunc"], ra[2]: ["slow"], ra[3]: ["400"] * 9,
                      ra[4]: ["500"] * 9, ra[5]: ["trunc-nolength"]}
    # a timeout well above a loaded machine's response time (the suite runs two workers on two cores), and a
    # "slow" reply well beyond it
    service.slow_s = 2.5
    t0 = time.perf_counter()
    report = fetch_cutouts(cat, tmp_path, size=64, base_url=service.url, workers=3, retries=2,
                           timeout_s=1.0, backoff_s=0.01)
    assert time.perf_counter() - t0 < 8
    per_row = Counter(q["ra"] for _, q in service.log)
    tries = [per_row[f"{r:.7f}"] for r in cat["ra"]]
    assert tries == [3, 2, 2, 1, 3, 2]          # 400 is never retried; retries=2 caps the 500s at 3
    assert set(report.downloaded) == {"obj0", "obj1", "obj2", "obj5"}
    failed = dict(report.failed)
    assert failed["obj3"].startswith("HTTP 400") and failed["obj4"].startswith("HTTP 500")
    assert not (tmp_path / "obj3.fits").exists() and not (tmp_path / "obj4.fits").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp files left
    assert report.retries == 2 + 1 + 1 + 2 + 1


def test_throttling_is_retried_but_missing_and_non_fits_answers_are_not(service, tmp_path):
    cat = _catalog(3)
    ra = [round(r, 4) for r in cat["ra"]]
    service.faults = {ra[0]: ["429"], ra[1]: ["404"] * 3, ra[2]: ["html"] * 3}
    report = fetch_cutouts(cat, tmp_path, size=32, base_url=service.url, retries=2, backoff_s=0.01)
    per_row = Counter(q["ra"] for _, q in service.log)
    assert [per_row[f"{r:.7f}"] for r in cat["ra"]] == [2, 1, 1]
    failed = dict(report.failed)
    assert report.downloaded == ["obj0"] and failed["obj1"] == "HTTP 404 Not Found: server error"
    assert failed["obj2"] == "the answer is not a FITS file ('<html><body>Service temporarily unavailable</body></html>')"
    assert report.requests == 4 and report.retries == 1


def test_truncated_jpeg_and_fits_without_length_are_retried(service, tmp_path):
    cat = _catalog(2)
    service.faults = {round(cat["ra"][1], 4): ["half-nolength"]}
    report = fetch_cutouts(cat, tmp_path, size=64, jpeg=True, base_url=service.url, backoff_s=0.01)
    assert report.failed == [] and report.requests == 6 and report.retries == 2
    from PIL import Image
    with Image.open(tmp_path / "obj1.jpg") as im:
        im.load()
        assert im.size == (64, 64)
    assert fits.getdata(tmp_path / "obj1.fits").shape == (3, 64, 64)


def test_a_service_that_goes_away_midway_stops_the_run(service, tmp_path):
    def go_away(iterable, **kw):  # called once the probe has succeeded, before the other downloads
        service.gone = True
        service.shutdown()
        service.server_close()
        return iterable

    with pytest.raises(FetchUnavailable, match=r"^cannot reach .*: connection refused, 4 cutouts in a row \(offline\?\)$"):
        fetch_cutouts(_catalog(6), tmp_path, size=32, base_url=service.url, workers=1, retries=1, backoff_s=0.01,
                      progress=go_away)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj0.fits"]


def test_proxy_from_the_environment_is_used_except_for_loopback(service, tmp_path, monkeypatch):
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    root = service.url.removesuffix("/viewer")
    monkeypatch.setenv("http_proxy", root)  # the test server also answers as a forward proxy
    proxies = Settings.from_env().proxies  # the entry point reads the environment, fetch gets the setting
    report = fetch_cutouts(_catalog(1), tmp_path / "a", size=32, base_url="http://cutouts.invalid/viewer",
                           proxies=proxies)
    assert report.downloaded == ["obj0"] and service.log[0][0] == "/viewer/cutout.fits"
    monkeypatch.setenv("http_proxy", _closed_port_url())  # a dead proxy is not used for 127.0.0.1
    assert fetch_cutouts(_catalog(1), tmp_path / "b", size=32, base_url=service.url,
                         proxies=Settings.from_env().proxies).downloaded == ["obj0"]


def test_unreachable_service_is_one_clear_line(tmp_path):
    url = _closed_port_url()
    t0 = time.perf_counter()
    with pytest.raises(FetchUnavailable) as err:
        fetch_cutouts(_catalog(3), tmp_path, base_url=url, backoff_s=0.01)
    assert time.perf_counter() - t0 < 2
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == f"cannot reach the Legacy Survey cutout service at {url}: connection refused (offline?)"


def test_a_service_that_never_answers_is_unavailable(service, tmp_path):
    service.faults = {150.0: ["slow"] * 5}
    with pytest.raises(FetchUnavailable, match=r"^cannot reach .*: no answer within 0.2 s \(offline\?\)$"):
        fetch_cutouts(_catalog(2), tmp_path, base_url=service.url, retries=1, timeout_s=0.2, backoff_s=0.01)
    assert len(service.log) == 2 and list(tmp_path.iterdir()) == []


def test_jpeg_and_the_cutout_url_setting(service, tmp_path, monkeypatch):
    monkeypatch.setenv("LENSFINDER_CUTOUT_URL", service.url)
    report = fetch_cutouts(_catalog(2), tmp_path, size=32, jpeg=True, backoff_s=0.01,
                           base_url=Settings.from_env().cutout_url)
    assert report.failed == [] and report.requests == 4 and report.base_url == service.url
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj0.fits", "obj0.jpg", "obj1.fits", "obj1.jpg"]
    assert Counter(path for path, _ in service.log) == {"/viewer/cutout.fits": 2, "/viewer/cutout.jpg": 2}


def test_catalog_reading_names_and_bad_rows(tmp_path):
    cat = read_catalog(pd.DataFrame({"RA": [149.63659, 10.0, np.nan], "Dec": [2.20375, 95.0, 1.0]}))
    assert cat["name"].tolist()[0] == "J095832.78+021213.5" and cat["label"].tolist() == [-1, -1, -1]
    url = cutout_url("https://example.org/viewer/", 1.5, -2.25, layer="ls-dr10", size=101, pixscale=0.262, bands="grz")
    assert url == ("https://example.org/viewer/cutout.fits?ra=1.5000000&dec=-2.2500000&layer=ls-dr10"
                   "&pixscale=0.262&size=101&bands=grz")
    with pytest.raises(TableError, match=r"^the catalogue table: missing column\(s\) ra, dec \(found: x\)$"):
        read_catalog(pd.DataFrame({"x": [1]}))


@pytest.mark.parametrize("content, message", [
    (b"", "cat.csv: the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "cat.csv: not a CSV text file (binary data on line 1)"),
    ("name,ra,dec\nAbell 370,39.97,-1.58\nJos\xe9,1,2\n".encode("latin-1"), "cat.csv: line 3: not UTF-8 text"),
    (b"name,RA\nx,1\n", "cat.csv: line 1: missing column(s) dec (found: name, ra)"),
    (b"ra,dec\n", "cat.csv: no rows after the header"),
    (b"ra,dec\n150,2\n15O,2\n", "cat.csv: line 3: ra is not a number: '15O'"),
    (b"RA [deg],DEC [deg],label\n150,2,1\n151,2,maybe\n", "cat.csv: line 3: label must be 1 (lens), 0 (not a lens)"),
    (b"ra,Ra,dec\n1,2,3\n", "cat.csv: line 1: column 'ra' appears twice"),
])
def test_catalogue_file_problems_name_the_line(tmp_path, content, message):
    path = tmp_path / "cat.csv"
    path.write_bytes(content)
    with pytest.raises(TableError) as err:
        read_catalog(path)
    assert str(err.value).startswith(f"{path.parent}/{message}")
    assert "\n" not in str(err.value)


def test_catalogue_file_columns_names_and_labels(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("Name , RA [deg], DEC [deg], Label\nAbell 370 / arc,39.97,-1.58,lens\n,149.63659,2.20375,\n"
                    "Abell 370 / arc,40.0,-1.0,0\n")
    cat = read_catalog(path)
    assert cat.to_dict("list") == {"name": ["Abell_370_arc", "J095832.78+021213.5", "Abell_370_arc-2"],
                                   "ra": [39.97, 149.63659, 40.0], "dec": [-1.58, 2.20375, -1.0], "label": [1, -1, 0]}


def test_invalid_rows_fail_without_requests(service, tmp_path):
    cat = pd.DataFrame({"name": ["ok", "bad"], "ra": [150.0, 151.0], "dec": [2.0, 95.0]})
    report = fetch_cutouts(cat, tmp_path, size=32, base_url=service.url, backoff_s=0.01)
    assert report.downloaded == ["ok"] and report.failed[0][0] == "bad" and "invalid position" in report.failed[0][1]
    assert len(service.log) == 1


def _cli(argv, monkeypatch):
    return cli.main(argv)


def test_cli_fetch_exit_codes(service, tmp_path, monkeypatch, capsys):
    csv = tmp_path / "cat.csv"
    _catalog(3).to_csv(csv, index=False)
    db = tmp_path / "lf.duckdb"
    monkeypatch.setenv("LENSFINDER_CUTOUT_URL", service.url)
    assert _cli(["fetch", str(csv), "--db", str(db), "--size", "32"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "3 downloaded" in out
    assert sorted(p.name for p in (tmp_path / "downloads" / "ls-dr9").iterdir()) == ["obj0.fits", "obj1.fits", "obj2.fits"]

    assert _cli(["fetch", str(csv), "--db", str(db), "--base-url", _closed_port_url()], monkeypatch) == 1
    err = capsys.readouterr().err
    assert err.startswith("lensfinder: error: cannot reach the Legacy Survey cutout service") and err.count("\n") == 1

    assert _cli(["fetch", str(tmp_path / "nope.csv"), "--db", str(db)], monkeypatch) == 1
    assert capsys.readouterr().err == f"lensfinder: error: {tmp_path / 'nope.csv'}: no such catalogue file\n"
    (tmp_path / "typo.csv").write_text("ra,dec\n150,2\n150.1,2,\n")
    assert _cli(["fetch", str(tmp_path / "typo.csv"), "--db", str(db)], monkeypatch) == 1
    assert "typo.csv: not a readable CSV file" in capsys.readouterr().err

    service.faults = {170.0: ["400"]}
    one = tmp_path / "one.csv"
    _catalog(1, ra0=170.0).to_csv(one, index=False)
    assert _cli(["fetch", str(one), "--db", str(db), "--out", str(tmp_path / "x")], monkeypatch) == 1
    assert "failed: obj0: HTTP 400" in capsys.readouterr().out


def test_cli_fetch_then_ingest(service, tmp_path, monkeypatch, capsys):
    csv = tmp_path / "cat.csv"
    _catalog(3).to_csv(csv, index=False)
    db = tmp_path / "lf.duckdb"
    argv = ["fetch", str(csv), "--db", str(db), "--size", "48", "--base-url", service.url, "--ingest"]
    assert _cli(argv, monkeypatch) == 0
    assert "3 added" in capsys.readouterr().out
    store = open_store(db)
    try:
        subjects = store.subjects().set_index("subject")
    finally:
        store.close()
    assert len(subjects) == 3
    row = subjects.loc["J100000.00+020000.0"]
    assert row["label"] == 1 and row["ra"] == pytest.approx(150.0) and row["dec"] == pytest.approx(2.0)
    assert (tmp_path / row["image"]).is_file() and (tmp_path / row["cube"]).is_file()
    assert _cli(argv, monkeypatch) == 0          # again: all cached, nothing added twice
    assert "0 added, 3 already in the store" in capsys.readouterr().out
