"""Download g, r, z cutouts from the Legacy Survey cutout service, politely and resumably.

For every catalogue row (``ra``, ``dec`` in degrees, optional ``name`` and ``label``) we
ask ``<base_url>/cutout.fits?ra=..&dec=..&layer=..&pixscale=..&size=..&bands=..`` (and
``cutout.jpg`` with ``jpeg=True``) and keep the answer as ``<out_dir>/<name>.fits``.

HTTP is urllib3's: one thread-safe connection pool, time-outs, and its ``Retry`` for server
errors (5xx, 408, 429, honouring ``Retry-After``), time-outs, dropped connections and bodies
shorter than their ``Content-Length``, with exponential back-off and jitter.  Written here
is only what no library knows: whether a body is a whole cutout (a FITS cube of the asked
shape holding every byte its header announces, or a JPEG that decodes); a truncated one
spends the same retry budget.  Other 4xx answers and answers that are not FITS fail the
row at once.

* **Cache and resume.** A file is moved into place only once it passed that check, so a
  file under its final name is complete; re-running skips those, which is also how an
  interrupted run resumes.
* **Offline.** If the first download gets no HTTP answer at all (name lookup fails,
  connection refused, time-outs), :class:`FetchUnavailable` is raised with a one-line message.

The base URL is ``base_url``, else ``$LENSFINDER_CUTOUT_URL``, else the public service.
"""

from __future__ import annotations

import errno
import io
import math
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import urllib3
from urllib3.exceptions import (ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError,
                                ProtocolError, ReadTimeoutError)

from ..errors import InvalidInput, UserError
from ..imaging.files import write_file
from ..imaging.survey import CUTOUT_SIZE_PX, PIXSCALE_ARCSEC
from .labels import read_catalog

__all__ = ["FetchReport", "FetchUnavailable", "fetch_cutouts", "read_catalog", "cutout_url",
           "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://www.legacysurvey.org/viewer"
MAX_SIZE = 3000
_RETRY_STATUS = frozenset({408, 429, *range(500, 600)})
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_HEADERS = {"User-Agent": "lensfinder (citizen-science lens search)"}


class FetchUnavailable(UserError, RuntimeError):
    """The cutout service cannot be reached at all; the message is one line."""


class _Refused(Exception):
    """The answer is wrong for good (a 4xx, not FITS, the wrong shape): the row fails."""


class _Truncated(ProtocolError):
    """The body is incomplete; a ProtocolError, so urllib3's Retry counts it as a read error."""


@dataclass
class FetchReport:
    """What a fetch did.  ``table`` has one row per catalogue row: name, ra, dec, label,
    fits (path or None), jpg, status (downloaded, cached, failed) and reason."""

    table: pd.DataFrame
    requests: int = 0
    retries: int = 0
    bytes: int = 0
    elapsed_s: float = 0.0
    base_url: str = ""

    @property
    def downloaded(self) -> list[str]:
        return self.table.loc[self.table["status"] == "downloaded", "name"].tolist()

    @property
    def cached(self) -> list[str]:
        return self.table.loc[self.table["status"] == "cached", "name"].tolist()

    @property
    def failed(self) -> list[tuple[str, str]]:
        bad = self.table[self.table["status"] == "failed"]
        return list(zip(bad["name"], bad["reason"]))

    @property
    def files(self) -> list[Path]:
        """FITS files on disk for the rows that succeeded, catalogue order."""
        return [Path(p) for p, s in zip(self.table["fits"], self.table["status"]) if s != "failed" and p]

    def summary(self) -> str:
        rate = self.bytes / 1e6 / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (f"{len(self.downloaded)} downloaded, {len(self.cached)} already on disk, {len(self.failed)} failed "
                f"({self.requests} requests, {self.retries} retries, {self.bytes / 1e6:.1f} MB in "
                f"{self.elapsed_s:.1f} s, {rate:.1f} MB/s)")


def cutout_url(base_url: str, ra: float, dec: float, *, layer: str, size: int, pixscale: float,
               bands: str | None, kind: str = "fits") -> str:
    """The service URL for one cutout (``kind`` fits or jpg)."""
    query = {"ra": f"{ra:.7f}", "dec": f"{dec:.7f}", "layer": layer, "pixscale": f"{pixscale:g}", "size": str(size)}
    if bands and kind == "fits":
        query["bands"] = bands
    return f"{base_url.rstrip('/')}/cutout.{kind}?{urllib.parse.urlencode(query)}"


# ---------------------------------------------------------------------- is it a whole cutout?
def _fits_layout(fileobj) -> tuple[tuple[int, ...], int] | None:
    """Shape (band, ny, nx) of the primary HDU and the bytes a file needs to hold it; None if the
    header is incomplete or unreadable.  astropy reads the header; the data length is
    BITPIX / 8 x the product of the NAXISn (the FITS standard), so nothing warns from threads."""
    from astropy.io import fits
    try:
        header = fits.Header.fromfile(fileobj)
        shape = tuple(int(header[f"NAXIS{i}"]) for i in range(int(header["NAXIS"]), 0, -1))
        return shape, fileobj.tell() + abs(int(header["BITPIX"])) // 8 * math.prod(shape)
    except (OSError, EOFError, ValueError, KeyError):
        return None


def _check_fits(body: bytes, size: int, nbands: int) -> None:
    """Raise _Refused (not FITS, wrong shape) or _Truncated unless ``body`` is a whole cube."""
    if not body.startswith(b"SIMPLE  ="):
        snippet = body[:60].decode("utf-8", "replace").replace("\n", " ").strip()
        raise _Refused(f"the answer is not a FITS file ({snippet!r})")
    layout = _fits_layout(io.BytesIO(body))
    if layout is None:
        raise _Truncated(f"truncated FITS file ({len(body)} bytes, header incomplete)")
    shape, need = layout
    if len(body) < need:
        raise _Truncated(f"truncated FITS file ({len(body)} of {need} bytes)")
    if shape != (nbands, size, size):
        raise _Refused(f"unexpected cube shape {shape}, asked for {(nbands, size, size)}")


def _check_jpeg(body: bytes) -> None:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(body)) as im:
            im.load()
    except UnidentifiedImageError:
        raise _Refused("the answer is not an image") from None
    except (OSError, SyntaxError) as exc:
        raise _Truncated(f"truncated image ({str(exc)[:80]})") from None


def _complete_on_disk(path: Path, size: int, nbands: int) -> bool:
    """A cached file counts if it has the asked shape and holds all its data (a JPEG: its magic bytes)."""
    try:
        if path.suffix == ".jpg":
            with open(path, "rb") as fh:
                return fh.read(2) == b"\xff\xd8"
        with open(path, "rb") as fh:
            layout = _fits_layout(fh)
        return layout is not None and layout[0] == (nbands, size, size) and path.stat().st_size >= layout[1]
    except OSError:
        return False


# ---------------------------------------------------------------------- the client
class _Client:
    """One fetch's HTTP pool, retry policy, counters and stop switch, shared by the worker threads."""

    def __init__(self, base_url: str, timeout_s: float, retries: int, backoff_s: float, workers: int,
                 proxies: Mapping[str, str] | None = None) -> None:
        self.base_url, self.timeout_s = base_url, timeout_s
        # urllib3 waits 0, 2f, 4f, ... (+ jitter up to j) before retries 1, 2, 3, ...: with f = j =
        # backoff_s / 2 that is 0, 1, 2, 4 ... x backoff_s, plus up to half of it.
        self.retry = urllib3.Retry(total=retries, allowed_methods={"GET"}, status_forcelist=_RETRY_STATUS,
                                   backoff_factor=backoff_s / 2, backoff_jitter=backoff_s / 2, backoff_max=60,
                                   retry_after_max=60, raise_on_status=False)
        self.pool = _pool_manager(base_url, workers, urllib3.Timeout(connect=timeout_s, read=timeout_s), proxies)
        self.lock = threading.Lock()
        self.abort = threading.Event()
        self.answered = threading.Event()  # the service has answered at least once
        self.requests = self.retried = self.bytes = 0

    def download(self, url: str, path: Path, check: Callable[[bytes], None], probe: bool = False) -> str:
        """Fetch one file into ``path``; '' on success, else the reason it failed.

        The probe does not retry a refused connection or failed name lookup, so an offline
        machine hears so at once.  Raises :class:`FetchUnavailable` if the probe gets no answer.
        """
        retry = self.retry.new(connect=0) if probe else self.retry
        attempts = nbytes = 0
        try:
            while not self.abort.is_set():
                try:
                    resp = self.pool.request("GET", url, retries=retry, headers=_HEADERS)
                except MaxRetryError as exc:  # urllib3 spent the rest of the budget
                    attempts = len(retry.history) + retry.total + 1
                    reason = _reason(exc.reason, self.timeout_s)
                    if probe and not self.answered.is_set():
                        raise FetchUnavailable(_unavailable(self.base_url, reason)) from None
                    return reason
                self.answered.set()
                # once the service has answered, a refused connection is retried like any other error
                retry = resp.retries.new(connect=None)
                attempts, nbytes = len(retry.history) + 1, nbytes + len(resp.data)
                try:
                    if resp.status >= 400:  # a 4xx, or a 5xx that outlasted the retries
                        raise _Refused(_http_reason(resp))
                    check(resp.data)
                except _Refused as exc:
                    return str(exc)
                except _Truncated as exc:
                    try:
                        retry = retry.increment("GET", url, error=exc)
                    except MaxRetryError:
                        return str(exc)
                    retry.sleep()
                    continue
                write_file(path, resp.data)
                return ""
            return "stopped"
        finally:
            with self.lock:
                self.requests += attempts
                self.retried += max(attempts - 1, 0)
                self.bytes += nbytes


def _pool_manager(base_url: str, workers: int, timeout: urllib3.Timeout,
                  proxies: Mapping[str, str] | None) -> urllib3.PoolManager:
    """A pool of ``workers`` connections per host, through the proxy for the URL's scheme in
    ``proxies`` (``Settings.proxies``: ``$https_proxy`` and the like) unless ``proxies["no"]``
    names the host; never for the loopback host of the tests."""
    parts = urllib.parse.urlsplit(base_url)
    proxies = dict(proxies or {})
    proxy = proxies.get(parts.scheme)
    host = parts.hostname or ""
    if proxy and host not in _LOOPBACK and not urllib.request.proxy_bypass_environment(host, proxies):
        return urllib3.ProxyManager(proxy, maxsize=workers, timeout=timeout)
    return urllib3.PoolManager(maxsize=workers, timeout=timeout)


def _http_reason(resp) -> str:
    lines = resp.data[:200].decode("utf-8", "replace").strip().splitlines()
    return f"HTTP {resp.status} {resp.reason}" + (f": {lines[0][:100]}" if lines else "")


def _reason(error: BaseException | None, timeout_s: float) -> str:
    """One line for why urllib3 gave up."""
    cause = getattr(error, "__cause__", None)
    if isinstance(error, NameResolutionError):
        return f"host name lookup failed ({_first_line(cause or error)})"
    if isinstance(error, NewConnectionError):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return cause.strerror or str(cause)
    if isinstance(error, ConnectTimeoutError):
        return f"no connection within {timeout_s:g} s"
    if isinstance(error, ReadTimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(error, ProtocolError):
        return f"connection broken ({_first_line(error.args[-1] if error.args else error)})"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(obj: object) -> str:
    text = str(obj).strip().splitlines()
    return text[0][:100] if text else type(obj).__name__


def _unavailable(base_url: str, reason: str) -> str:
    return f"cannot reach the Legacy Survey cutout service at {base_url}: {reason} (offline?)"


# ---------------------------------------------------------------------- the run
def fetch_cutouts(catalog_frame: pd.DataFrame, out_dir: str | os.PathLike, layer: str = "ls-dr9",
                  size: int = CUTOUT_SIZE_PX, bands: str = "grz", pixscale: float = PIXSCALE_ARCSEC,
                  jpeg: bool = False, base_url: str | None = None,
                  workers: int = 4, retries: int = 4, timeout_s: float = 30, progress: Callable[..., Iterable] | None = None,
                  backoff_s: float = 1.0, proxies: Mapping[str, str] | None = None) -> FetchReport:
    """Download a FITS cube (and optionally a JPEG) for every catalogue row into ``out_dir``.

    Parameters
    ----------
    catalog_frame : DataFrame with ``ra``, ``dec`` (degrees, ICRS), optional ``name``, ``label``.
    out_dir : folder for ``<name>.fits`` (float32 cube, shape (band, size, size), nanomaggies)
        and ``<name>.jpg``; created if needed.
    layer, size, bands, pixscale : passed to the service (``size`` in pixels per side, at most
        3000; ``pixscale`` in arcsec per pixel).
    base_url : the service (default :data:`DEFAULT_BASE_URL`).
    workers : parallel downloads (be kind to a shared public service: 4 is plenty).
    retries, timeout_s, backoff_s : attempts after the first; seconds per connect or read;
        back-off unit in seconds (the first retry at once, then 1, 2, 4, ... units, each
        plus up to half a unit at random, at most 60 s).
    progress : optional ``progress(iterable, total=, desc=, unit=)`` wrapper.
    proxies : web proxies by URL scheme, and ``"no"`` for hosts reached directly
        (``Settings.proxies``, from ``$https_proxy`` and the like; default: none).

    Raises
    ------
    FetchUnavailable
        The service never answered (name lookup failed, connection refused or time-outs),
        or stopped answering for many rows in a row.
    """
    if not 1 <= int(size) <= MAX_SIZE:
        raise InvalidInput(f"size must be 1 to {MAX_SIZE} pixels, got {size}")
    if not (pixscale > 0 and math.isfinite(pixscale)):
        raise InvalidInput(f"pixscale must be a positive number of arcsec per pixel, got {pixscale}")
    if not bands or not bands.isalpha():
        raise InvalidInput(f"bands must be letters like 'grz', got {bands!r}")
    base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    cat = read_catalog(catalog_frame)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    size, nbands = int(size), len(bands)
    t0 = time.perf_counter()

    table = cat.copy()
    table["fits"] = [str(out / f"{n}.fits") for n in cat["name"]]
    table["jpg"] = [str(out / f"{n}.jpg") if jpeg else None for n in cat["name"]]
    table["status"], table["reason"] = "cached", ""
    jobs: list[tuple[int, str, Path, Callable[[bytes], None]]] = []
    for i, (ra, dec) in enumerate(zip(cat["ra"], cat["dec"])):
        if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
            table.loc[i, ["status", "reason"]] = ["failed", f"invalid position ra={ra}, dec={dec}"]
            continue
        targets = [(Path(table.at[i, "fits"]), "fits", lambda b: _check_fits(b, size, nbands))]
        if jpeg:
            targets.append((Path(table.at[i, "jpg"]), "jpg", _check_jpeg))
        for path, kind, check in targets:
            if not _complete_on_disk(path, size, nbands):
                url = cutout_url(base_url, float(ra) % 360.0, float(dec), layer=layer, size=size, pixscale=pixscale,
                                 bands=bands, kind=kind)
                jobs.append((i, url, path, check))

    def record(i: int, reason: str) -> None:
        if reason:
            table.loc[i, ["status", "reason"]] = ["failed", reason]
        elif table.at[i, "status"] != "failed":
            table.at[i, "status"] = "downloaded"

    client = _Client(base_url, float(timeout_s), int(retries), float(backoff_s), max(1, int(workers)), proxies)
    if jobs:
        # The first download runs alone: if the service is unreachable we say so at once.
        i, url, path, check = jobs[0]
        record(i, client.download(url, path, check, probe=True))
        _run_pool(client, jobs[1:], record, max(1, int(workers)), progress)
    return FetchReport(table=table, requests=client.requests, retries=client.retried, bytes=client.bytes,
                       elapsed_s=time.perf_counter() - t0, base_url=base_url)


def _run_pool(client: _Client, jobs: list, record: Callable[[int, str], None], workers: int,
              progress: Callable[..., Iterable] | None) -> None:
    """Run the remaining downloads on ``workers`` threads; stop with :class:`FetchUnavailable`
    once 2 x workers rows in a row (at least 4) could not connect."""
    if not jobs:
        return
    ticks = iter(progress(range(len(jobs)), total=len(jobs), desc="downloading", unit="file")) if progress else None
    streak, limit = 0, max(4, 2 * workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lensfinder-fetch")
    try:
        futures = {pool.submit(client.download, url, path, check): i for i, url, path, check in jobs}
        for fut in as_completed(futures):
            reason = fut.result()
            record(futures[fut], reason)
            if ticks is not None:
                next(ticks, None)
            if reason.startswith(("connection refused", "host name lookup")):
                streak += 1
            elif not reason:
                streak = 0
            if streak >= limit:
                raise FetchUnavailable(_unavailable(client.base_url, f"{reason}, {streak} cutouts in a row"))
    except BaseException:
        client.abort.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _ in ticks or ():
            pass
