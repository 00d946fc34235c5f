"""Image storage beside the store: display JPEGs and g, r, z cubes, addressed by short references.

Everything lives under the *data folder* (the folder of the DuckDB file) and is referenced by
a path relative to it, so a data folder can be moved or zipped as a whole:

* ``images/<subject>.jpg`` - the pre-rendered display picture (north up);
* ``images/<batch>.jpgs#<offset>:<length>`` - one picture inside a batch file holding many
  pictures back to back (thousands of tiny files are slow to write and to copy); read any
  picture reference with :func:`read_image`;
* ``cubes/<batch>.npy`` - a batch of cubes, float32 of shape (n, 3, ny, nx), bands g, r, z,
  FITS orientation (row 0 south), nanomaggies; one cube is ``"cubes/<batch>.npy#<i>"``.
  Batches are read memory-mapped, so loading one cube touches only its own pages;
* ``cubes/<name>.fits`` - one cube as a FITS file (primary HDU, e.g. a Legacy Survey cutout);
* ``mock:<arc>+<background>`` - a mock lens stored without a second copy of its background:
  the arc (float16 batch) plus the background cube, added up on load;
* masks: boolean batches are stored bit-packed, shape (n, ny, ceil(nx / 8)) uint8, for square
  stamps; ``load_mask`` unpacks ``"cubes/<masks>.npy#<i>"`` to bool (ny, nx), FITS orientation.

Example
-------
>>> import tempfile, numpy as np
>>> folder = tempfile.mkdtemp()
>>> cubes = np.ones((2, 3, 5, 5), np.float32)
>>> refs = write_batch(folder, "demo-000", cubes)
>>> refs
['cubes/demo-000.npy#0', 'cubes/demo-000.npy#1']
>>> arcs = write_batch(folder, "arcs-000", np.full((1, 3, 5, 5), 0.5, np.float16))
>>> load_cube(folder, mock_ref(arcs[0], refs[1]))[0, 0, 0]
np.float32(1.5)
>>> masks = write_batch(folder, "masks-000", np.eye(5, dtype=bool)[None])
>>> load_mask(folder, masks[0]).sum()
np.int64(5)
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["write_file", "write_batch", "write_image", "write_images", "read_image", "load_cube", "load_mask",
           "mock_ref", "mock_parts", "parse_ref"]

MOCK_PREFIX = "mock:"
# the arc is always a batch item, so the first "+" after "#<i>" separates it from the background
# (whose path may contain "+", e.g. "cubes/ingest/J100000.00+020000.0.fits")
_MOCK = re.compile(r"mock:(?P<arc>[^#]+#\d+)\+(?P<background>.+)")


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a hidden temporary file in the same folder, then a
    rename, so a file under its final name is always complete (folders are created)."""
    _atomic_write(Path(path), lambda fh: fh.write(data))


def write_batch(data_dir: str | os.PathLike, name: str, array: np.ndarray) -> list[str]:
    """Write a batch ``cubes/<name>.npy`` atomically and return one reference per item.

    Parameters
    ----------
    data_dir : path
        The data folder (the folder of the DuckDB file).
    name : str
        Batch name, e.g. ``"demo-000"`` (no folder, no extension).
    array : numpy.ndarray
        Cubes (n, 3, ny, nx) - float16 is kept (mock arcs), anything else is stored float32 -
        or masks (n, ny, nx) bool, stored bit-packed.

    Returns
    -------
    list of str
        ``["cubes/<name>.npy#0", ...]``, relative to ``data_dir``.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"batch name must be a plain file stem, got {name!r}")
    array = np.asarray(array)
    if array.dtype == bool:
        if array.ndim != 3 or array.shape[1] != array.shape[2]:
            raise ValueError(f"masks must have shape (n, npix, npix), got {array.shape}")
        stored = np.packbits(array, axis=-1)
    else:
        if array.ndim != 4:
            raise ValueError(f"cubes must have shape (n, band, ny, nx), got {array.shape}")
        stored = array if array.dtype == np.float16 else array.astype(np.float32, copy=False)
    rel = f"cubes/{name}.npy"
    _atomic_write(Path(data_dir) / rel, lambda fh: np.save(fh, np.ascontiguousarray(stored)))
    return [f"{rel}#{i}" for i in range(len(array))]


def write_image(data_dir: str | os.PathLike, name: str, data: bytes, ext: str = "jpg") -> str:
    """Write ``images/<name>.<ext>`` atomically; returns the relative path."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"image name must be a plain file stem, got {name!r}")
    rel = f"images/{name}.{ext}"
    _atomic_write(Path(data_dir) / rel, lambda fh: fh.write(data))
    return rel


def write_images(data_dir: str | os.PathLike, name: str, blobs: list[bytes], ext: str = "jpgs") -> list[str]:
    """Write pictures back to back into ``images/<name>.<ext>`` atomically; one reference each.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> refs = write_images(folder, "batch-000", [b"\\xff\\xd8one", b"\\xff\\xd8two!"])
    >>> refs
    ['images/batch-000.jpgs#0:5', 'images/batch-000.jpgs#5:6']
    >>> read_image(folder, refs[1])
    b'\\xff\\xd8two!'
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"image name must be a plain file stem, got {name!r}")
    rel = f"images/{name}.{ext}"
    refs, offset = [], 0
    for blob in blobs:
        refs.append(f"{rel}#{offset}:{len(blob)}")
        offset += len(blob)
    _atomic_write(Path(data_dir) / rel, lambda fh: fh.write(b"".join(blobs)))
    return refs


def read_image(data_dir: str | os.PathLike, ref: str) -> bytes:
    """The bytes of a picture: ``images/<name>.jpg`` (a whole file) or ``<file>#<offset>:<length>``.

    Raises ``FileNotFoundError`` (``OSError``) if the file is missing, ``ValueError`` for a
    malformed or truncated reference or one that leaves the data folder.
    """
    path, sep, span = str(ref).partition("#")
    full = Path(data_dir) / path
    if not full.resolve().is_relative_to(Path(data_dir).resolve()):
        raise ValueError(f"picture reference {ref!r} points outside the data folder")
    if not sep:
        return full.read_bytes()
    try:
        offset, length = (int(v) for v in span.split(":"))
    except ValueError:
        raise ValueError(f"a picture in a batch file is '<file>#<offset>:<length>', got {ref!r}") from None
    with open(full, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length or offset < 0:
        raise ValueError(f"{path} is too short for {ref!r}")
    return data


def mock_ref(arc_ref: str, background_ref: str) -> str:
    """The reference of a mock: its arc (float16 batch item) plus its background cube.

    >>> mock_ref("cubes/arcs-000.npy#4", "cubes/ingest/J100000.00+020000.0.fits")
    'mock:cubes/arcs-000.npy#4+cubes/ingest/J100000.00+020000.0.fits'
    """
    return f"{MOCK_PREFIX}{arc_ref}+{background_ref}"


def mock_parts(ref: str) -> tuple[str, str] | None:
    """(arc reference, background reference) of a mock reference, None for any other reference.

    >>> mock_parts("mock:cubes/arcs.npy#2+cubes/bg.npy#7")
    ('cubes/arcs.npy#2', 'cubes/bg.npy#7')
    """
    match = _MOCK.fullmatch(str(ref)) if str(ref).startswith(MOCK_PREFIX) else None
    return (match["arc"], match["background"]) if match else None


def parse_ref(ref: str) -> tuple[str, int | None]:
    """(file, item) of a reference; the file is relative to the data folder.

    >>> parse_ref("cubes/a.npy#3"), parse_ref("cubes/x.fits")
    (('cubes/a.npy', 3), ('cubes/x.fits', None))
    """
    path, sep, index = str(ref).partition("#")
    if not path:
        raise ValueError(f"empty image reference {ref!r}")
    if not sep:
        return path, None
    try:
        return path, int(index)
    except ValueError:
        raise ValueError(f"bad item number in reference {ref!r}") from None


@functools.lru_cache(maxsize=64)
def _open_npy(path: str, mtime_ns: int, size: int) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _batch(data_dir, path: str) -> np.ndarray:
    full = Path(data_dir) / path
    try:
        st = full.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"no image file {full}") from None
    return _open_npy(str(full), st.st_mtime_ns, st.st_size)


def _item(data_dir, ref: str) -> np.ndarray:
    path, index = parse_ref(ref)
    if path.endswith((".fits", ".fits.gz", ".fit")):
        from astropy.io import fits  # lazily: astropy is slow to import
        with fits.open(Path(data_dir) / path, memmap=False) as hdul:
            data = next((h.data for h in hdul if h.data is not None and h.data.ndim >= 2), None)
        if data is None:
            raise ValueError(f"{path} holds no image")
        return data if index is None else data[index]
    if index is None:
        raise ValueError(f"reference {ref!r} needs an item number: 'cubes/<batch>.npy#<i>'")
    batch = _batch(data_dir, path)
    if not 0 <= index < len(batch):
        raise IndexError(f"{path} has {len(batch)} items, not #{index}")
    return batch[index]


def load_cube(data_dir: str | os.PathLike, ref: str) -> np.ndarray:
    """The cube behind ``ref`` as float32 of shape (3, ny, nx): g, r, z, FITS orientation, nanomaggies.

    ``ref`` is ``"cubes/<batch>.npy#<i>"``, ``"cubes/<name>.fits"`` or
    ``"mock:<arc ref>+<background ref>"`` (arc and background added).  Missing files raise
    ``FileNotFoundError``; malformed references ``ValueError``.
    """
    ref = str(ref)
    if ref.startswith(MOCK_PREFIX):
        match = _MOCK.fullmatch(ref)
        if match is None:
            raise ValueError(f"a mock reference is 'mock:<arc batch>.npy#<i>+<background>', got {ref!r}")
        arc, background = _item(data_dir, match["arc"]), _item(data_dir, match["background"])
        if arc.shape != background.shape:
            raise ValueError(f"arc {arc.shape} and background {background.shape} differ in shape")
        return np.asarray(background, np.float32) + np.asarray(arc, np.float32)
    cube = np.array(_item(data_dir, ref), dtype=np.float32)
    if cube.ndim != 3:
        raise ValueError(f"{ref} is not a (band, ny, nx) cube: shape {cube.shape}")
    return cube


def load_mask(data_dir: str | os.PathLike, ref: str) -> np.ndarray:
    """The boolean arc mask behind ``"cubes/<masks>.npy#<i>"``, shape (ny, nx), FITS orientation.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> mask = np.zeros((1, 9, 9), bool)            # (n, ny, nx); square stamps
    >>> mask[0, 0, 8] = True                       # FITS row 0 (the south edge), column 8
    >>> ref = write_batch(folder, "masks-000", mask)[0]
    >>> np.argwhere(load_mask(folder, ref)).tolist()
    [[0, 8]]
    """
    packed = _item(data_dir, ref)
    if packed.dtype != np.uint8 or packed.ndim != 2:
        raise ValueError(f"{ref} is not a packed mask")
    ny = packed.shape[0]
    return np.unpackbits(packed, axis=-1, count=ny).astype(bool)
