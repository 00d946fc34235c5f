"""Download g, r, z cutouts from the Legacy Survey cutout service, politely and resumably.

For every catalogue row (``ra``, ``dec`` in degrees, optional ``name`` and ``label``) we
ask ``<base_url>/cutout.fits?ra=..&dec=..&layer=..&pixscale=..&size=..&bands=..`` (and
``cutout.jpg`` with ``jpeg=True``) and keep the answer as ``<out_dir>/<name>.fits``.

* **Cache and resume.** A file is written to a hidden temporary name and moved into place
  (``os.replace``) only after it parsed as a FITS cube of the expected shape, so a file
  under its final name is always complete; re-running skips those, which is also how an
  interrupted run resumes.
* **Retries.** Server errors (5xx, 408, 429), time-outs, dropped connections and truncated
  bodies are retried ``retries`` times with exponential back-off and jitter; other 4xx
  answers (a bad request) are recorded as failed at once.
* **Offline.** If the service cannot be reached at all (name lookup fails, connection
  refused, no answer), :class:`FetchUnavailable` is raised with a one-line message.

The base URL is ``base_url``, else ``$LENSFINDER_CUTOUT_URL``, else the public service.
"""

from __future__ import annotations

import errno
import http.client
import io
import math
import os
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .ingest import coordinate_name

__all__ = ["FetchReport", "FetchUnavailable", "fetch_cutouts", "read_catalog", "cutout_url",
           "DEFAULT_BASE_URL", "ENV_BASE_URL"]

DEFAULT_BASE_URL = "https://www.legacysurvey.org/viewer"
ENV_BASE_URL = "LENSFINDER_CUTOUT_URL"
MAX_SIZE = 3000
_BLOCK = 2880
_SAFE = re.compile(r"[^A-Za-z0-9._+\-]+")
_UNREACHABLE_ERRNO = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class FetchUnavailable(RuntimeError):
    """The cutout service cannot be reached at all; the message is one line."""

    user_facing = True  # the CLI reports it as a one-line error


class _Retry(Exception):
    """A transient problem; the message is the reason if retries run out."""


class _Fail(Exception):
    """A permanent problem for this row (bad request, not FITS)."""


class _Unreachable(Exception):
    """A connection-level failure: no answer from the host at all."""


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


# ---------------------------------------------------------------------- catalogue
def read_catalog(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A catalogue as columns name, ra, dec, label (label -1 where not given).

    Accepts ``ra``/``dec`` in any case (also ``RA [deg]``); ``name`` is optional (the
    coordinate name ``J095832.78+021213.5`` is used instead).
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"{path}: no such catalogue file")
        try:
            df = pd.read_csv(path, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    cols = {str(c).strip().lower().replace(" [deg]", ""): c for c in df.columns}
    if "ra" not in cols or "dec" not in cols:
        raise ValueError(f"the catalogue needs 'ra' and 'dec' columns (degrees); it has {list(df.columns)}")
    out = pd.DataFrame({"ra": pd.to_numeric(df[cols["ra"]], errors="coerce"),
                        "dec": pd.to_numeric(df[cols["dec"]], errors="coerce")})
    names = df[cols["name"]].astype(str).str.strip() if "name" in cols else pd.Series([""] * len(df), index=df.index)
    out["name"] = [_SAFE.sub("_", n).strip("._")[:80] if n and n.lower() != "nan" else
                   (coordinate_name(r, d) if math.isfinite(r) and math.isfinite(d) else f"row{i}")
                   for i, (n, r, d) in enumerate(zip(names, out["ra"].fillna(np.nan), out["dec"].fillna(np.nan)))]
    out["label"] = df[cols["label"]].astype(object) if "label" in cols else -1
    seen: dict[str, int] = {}
    for i, n in enumerate(out["name"]):  # distinct objects with one name get -<row>
        if n in seen:
            out.iat[i, out.columns.get_loc("name")] = f"{n}-{i}"
        seen.setdefault(n, i)
    return out[["name", "ra", "dec", "label"]].reset_index(drop=True)


def cutout_url(base_url: str, ra: float, dec: float, *, layer: str, size: int, pixscale: float,
               bands: str | None, kind: str = "fits") -> str:
    """The service URL for one cutout (``kind`` fits or jpg)."""
    query = {"ra": f"{ra:.7f}", "dec": f"{dec:.7f}", "layer": layer, "pixscale": f"{pixscale:g}", "size": str(size)}
    if bands and kind == "fits":
        query["bands"] = bands
    return f"{base_url.rstrip('/')}/cutout.{kind}?{urllib.parse.urlencode(query)}"


# ---------------------------------------------------------------------- validation
def _fits_header(head: bytes) -> tuple[dict[str, str], int] | None:
    """Minimal primary-header parse: card values and header length, or None if no END yet."""
    cards: dict[str, str] = {}
    for start in range(0, len(head) - 79, 80):
        card = head[start:start + 80].decode("ascii", "replace")
        key = card[:8].strip()
        if key == "END":
            return cards, (start // _BLOCK + 1) * _BLOCK
        if card[8:10] == "= ":
            cards[key] = card[10:].split("/")[0].strip().strip("'").strip()
    return None


def _check_fits(body: bytes, size: int, nbands: int) -> None:
    """Raise _Fail (not FITS / wrong shape) or _Retry (truncated) unless ``body`` is a full cube."""
    if not body.startswith(b"SIMPLE  ="):
        snippet = body[:60].decode("utf-8", "replace").replace("\n", " ").strip()
        raise _Fail(f"the answer is not a FITS file ({snippet!r})")
    parsed = _fits_header(body[:_BLOCK * 40])
    if parsed is None:
        raise _Retry(f"truncated FITS file ({len(body)} bytes, header incomplete)")
    cards, hdr_len = parsed
    try:
        shape = tuple(int(cards[f"NAXIS{i}"]) for i in range(int(cards["NAXIS"]), 0, -1))
        nbytes = abs(int(cards["BITPIX"])) // 8 * int(np.prod(shape))
    except (KeyError, ValueError):
        raise _Fail("FITS header without a usable NAXIS/BITPIX") from None
    if len(body) < hdr_len + nbytes:
        raise _Retry(f"truncated FITS file ({len(body)} of {hdr_len + nbytes} bytes)")
    if shape != (nbands, size, size):
        raise _Fail(f"unexpected cube shape {shape}, asked for {(nbands, size, size)}")
    from astropy.io import fits
    try:
        with fits.open(io.BytesIO(body), memmap=False) as hdul:
            data = hdul[0].data
            if data is None or data.shape != shape:
                raise _Fail("FITS data does not match its header")
    except (OSError, ValueError, TypeError) as exc:
        raise _Retry(f"FITS does not parse ({str(exc).splitlines()[0][:100]})") from None


def _check_jpeg(body: bytes) -> None:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(body)) as im:
            im.load()
    except UnidentifiedImageError:
        raise _Fail("the answer is not an image") from None
    except (OSError, SyntaxError) as exc:
        raise _Retry(f"truncated image ({str(exc)[:80]})") from None


def _complete_on_disk(path: Path, size: int, nbands: int) -> bool:
    """A cached file counts if its header has the asked shape and the file holds all its data."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_BLOCK * 4)
            if path.suffix == ".jpg":
                return head[:2] == b"\xff\xd8"
            parsed = _fits_header(head)
            if parsed is None or not head.startswith(b"SIMPLE  ="):
                return False
            cards, hdr_len = parsed
            shape = tuple(int(cards[f"NAXIS{i}"]) for i in range(int(cards["NAXIS"]), 0, -1))
            need = hdr_len + abs(int(cards["BITPIX"])) // 8 * int(np.prod(shape))
            return shape == (nbands, size, size) and os.fstat(fh.fileno()).st_size >= need
    except (OSError, KeyError, ValueError):
        return False


# ---------------------------------------------------------------------- the run
class _Run:
    """Shared state of one fetch: counters, the opener and the give-up switch."""

    def __init__(self, base_url: str, timeout_s: float, retries: int, backoff_s: float, workers: int) -> None:
        self.base_url, self.timeout_s, self.retries, self.backoff_s = base_url, timeout_s, retries, backoff_s
        host = urllib.parse.urlparse(base_url).hostname or ""
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
        self.opener = urllib.request.build_opener(*handlers)
        self.lock = threading.Lock()
        self.abort = threading.Event()
        self.answered = threading.Event()  # the service has answered at least once
        self.requests = self.retried = self.bytes = 0
        self.unreachable_streak = 0
        self.streak_limit = max(4, 2 * workers)
        self.fatal: str | None = None

    def get(self, url: str) -> bytes:
        with self.lock:
            self.requests += 1
        req = urllib.request.Request(url, headers={"User-Agent": "lensfinder (citizen-science lens search)"})
        try:
            with self.opener.open(req, timeout=self.timeout_s) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            self.answered.set()
            text = ""
            try:
                text = exc.read(200).decode("utf-8", "replace").strip().splitlines()[0][:100]
            except Exception:
                pass
            reason = f"HTTP {exc.code} {exc.reason}" + (f": {text}" if text else "")
            if exc.code >= 500 or exc.code in (408, 429):
                raise _Retry(reason) from None
            raise _Fail(reason) from None
        except http.client.IncompleteRead as exc:
            self.answered.set()
            raise _Retry(f"truncated answer ({len(exc.partial)} bytes)") from None
        except (TimeoutError, socket.timeout):
            raise _Retry(f"no answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            raise _classify(exc.reason) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise _classify(exc) from None
        self.answered.set()
        with self.lock:
            self.bytes += len(body)
        return body


def _classify(reason: object) -> Exception:
    if isinstance(reason, socket.gaierror):
        return _Unreachable(f"host name lookup failed ({reason.strerror or reason})")
    if isinstance(reason, ConnectionRefusedError):
        return _Unreachable("connection refused")
    if isinstance(reason, OSError) and reason.errno in _UNREACHABLE_ERRNO:
        return _Unreachable(reason.strerror or str(reason))
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _Retry("no answer in time")
    text = str(reason).strip().splitlines()
    return _Retry(f"{type(reason).__name__}: {text[0][:100] if text else ''}".rstrip(": "))


def _download(run: _Run, url: str, path: Path, check: Callable[[bytes], None]) -> str:
    """Fetch one file with retries; returns '' on success or the failure reason."""
    reason = ""
    for attempt in range(run.retries + 1):
        if run.abort.is_set():
            return "stopped"
        if attempt:
            with run.lock:
                run.retried += 1
        try:
            body = run.get(url)
            check(body)
        except _Fail as exc:
            return str(exc)
        except _Unreachable as exc:
            if not run.answered.is_set():
                raise FetchUnavailable(_unavailable(run.base_url, str(exc))) from None
            reason = str(exc)
        except _Retry as exc:
            reason = str(exc)
        else:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
            tmp.write_bytes(body)
            os.replace(tmp, path)
            return ""
        if attempt < run.retries:
            delay = min(run.backoff_s * 2 ** attempt, 60.0) * (0.5 + random.random())
            if run.abort.wait(delay):
                return "stopped"
    return reason or "failed"


def _unavailable(base_url: str, reason: str) -> str:
    return f"cannot reach the Legacy Survey cutout service at {base_url}: {reason} (offline?)"


def fetch_cutouts(catalog_frame: pd.DataFrame, out_dir: str | os.PathLike, layer: str = "ls-dr9", size: int = 101,
                  bands: str = "grz", pixscale: float = 0.262, jpeg: bool = False, base_url: str | None = None,
                  workers: int = 4, retries: int = 4, timeout_s: float = 30, progress: Callable[..., Iterable] | None = None,
                  backoff_s: float = 1.0) -> FetchReport:
    """Download a FITS cube (and optionally a JPEG) for every catalogue row into ``out_dir``.

    Parameters
    ----------
    catalog_frame : DataFrame with ``ra``, ``dec`` (degrees, ICRS), optional ``name``, ``label``.
    out_dir : folder for ``<name>.fits`` (float32 cube, shape (band, size, size), nanomaggies)
        and ``<name>.jpg``; created if needed.
    layer, size, bands, pixscale : passed to the service (``size`` in pixels per side, at most
        3000; ``pixscale`` in arcsec per pixel).
    base_url : the service (default ``$LENSFINDER_CUTOUT_URL`` or :data:`DEFAULT_BASE_URL`).
    workers : parallel downloads (be kind to a shared public service: 4 is plenty).
    retries, timeout_s, backoff_s : attempts after the first; seconds per socket operation;
        first back-off delay in seconds (doubled each retry, with +/-50 % jitter).
    progress : optional ``progress(iterable, total=, desc=, unit=)`` wrapper.

    Raises
    ------
    FetchUnavailable
        The service never answered (name lookup failed, connection refused or time-outs),
        or stopped answering for many rows in a row.
    """
    if not 1 <= int(size) <= MAX_SIZE:
        raise ValueError(f"size must be 1 to {MAX_SIZE} pixels, got {size}")
    if not (pixscale > 0 and math.isfinite(pixscale)):
        raise ValueError(f"pixscale must be a positive number of arcsec per pixel, got {pixscale}")
    if not bands or not bands.isalpha():
        raise ValueError(f"bands must be letters like 'grz', got {bands!r}")
    base_url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
    cat = read_catalog(catalog_frame)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    size, nbands = int(size), len(bands)
    t0 = time.perf_counter()
    run = _Run(base_url, float(timeout_s), int(retries), float(backoff_s), int(workers))

    table = cat.copy()
    table["fits"] = [str(out / f"{n}.fits") for n in cat["name"]]
    table["jpg"] = [str(out / f"{n}.jpg") if jpeg else None for n in cat["name"]]
    table["status"], table["reason"] = "cached", ""
    jobs: list[tuple[int, str, Path, Callable[[bytes], None]]] = []
    for i, (ra, dec) in enumerate(zip(cat["ra"], cat["dec"])):
        if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
            table.loc[i, ["status", "reason"]] = ["failed", f"invalid position ra={ra}, dec={dec}"]
            continue
        ra = float(ra) % 360.0
        targets = [(Path(table.at[i, "fits"]), "fits", lambda b: _check_fits(b, size, nbands))]
        if jpeg:
            targets.append((Path(table.at[i, "jpg"]), "jpg", _check_jpeg))
        for path, kind, check in targets:
            if not _complete_on_disk(path, size, nbands):
                url = cutout_url(base_url, ra, float(dec), layer=layer, size=size, pixscale=pixscale,
                                 bands=bands, kind=kind)
                jobs.append((i, url, path, check))

    def record(i: int, reason: str) -> None:
        if reason:
            table.loc[i, ["status", "reason"]] = ["failed", reason]
        elif table.at[i, "status"] != "failed":
            table.at[i, "status"] = "downloaded"

    if jobs:
        # The first download runs alone: if the service is unreachable we say so at once.
        i, url, path, check = jobs[0]
        reason = _download(run, url, path, check)
        if not run.answered.is_set():
            raise FetchUnavailable(_unavailable(base_url, reason))
        record(i, reason)
        _run_pool(run, jobs[1:], record, workers, progress)
    if run.fatal:
        raise FetchUnavailable(run.fatal)
    return FetchReport(table=table, requests=run.requests, retries=run.retried, bytes=run.bytes,
                       elapsed_s=time.perf_counter() - t0, base_url=base_url)


def _run_pool(run: _Run, jobs: list, record: Callable[[int, str], None], workers: int,
              progress: Callable[..., Iterable] | None) -> None:
    """Run the remaining downloads on ``workers`` threads, at most 2 x workers queued at a time."""
    if not jobs:
        return
    ticks = iter(progress(range(len(jobs)), total=len(jobs), desc="downloading", unit="file")) if progress else None
    pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="lensfinder-fetch")
    pending: dict = {}
    queue = iter(jobs)
    try:
        while True:
            while len(pending) < 2 * max(1, workers) and not run.abort.is_set():
                job = next(queue, None)
                if job is None:
                    break
                pending[pool.submit(_download, run, job[1], job[2], job[3])] = job
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                reason = fut.result()  # FetchUnavailable propagates
                record(job[0], reason)
                if ticks is not None:
                    next(ticks, None)
                with run.lock:
                    if reason.startswith(("connection refused", "host name lookup")):
                        run.unreachable_streak += 1
                    elif not reason:
                        run.unreachable_streak = 0
                    if run.unreachable_streak >= run.streak_limit and run.fatal is None:
                        run.fatal = _unavailable(run.base_url, f"{reason}, {run.unreachable_streak} cutouts in a row")
                        run.abort.set()
    except BaseException:
        run.abort.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if ticks is not None:
            for _ in ticks:
                pass
