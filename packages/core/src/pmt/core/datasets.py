"""Dataset registry, download and cache: `fetch(name) -> {filename: Path}`.

Each dataset is a `DatasetSpec` listing its files (`RemoteFile`: name, URL, sha256, size).
`fetch` finds every file in this order:

1. `$PMT_DATA_DIR/<name>/<file>`: a shared read-only mirror (CI sets it);
2. the cache, `$PMT_CACHE/<name>/<file>` (default `~/.cache/pmt/<name>/<file>`);
3. a download into the cache: urllib with a tqdm progress bar, into `<file>.part`, resumed
   with an HTTP Range request if a previous attempt left a partial file, checked against the
   registry's size and sha256, then renamed into place (`os.replace`, atomic), so a file at
   its final path is always complete and verified.

A file found in 1 or 2 is verified by size and sha256 too, on first use.  The result is
remembered per (path, size, modification time, expected checksum), in memory and in a small
stamp file in the cache (`$PMT_CACHE/verified.json`; the mirror itself is read-only), so
later runs, and later processes, pay nothing; a file that changes is checked again.  A spec
may give a `validate(path)` function accepting a local file whose checksum differs (the
mirror's Fashion-MNIST files were re-compressed: other gzip bytes, same decompressed
content, checked by the decompressed sha256).  A file that fails is refused with both
checksums named, and, when its checksum is another registered file's (MNIST images put in
`fashion-mnist/`), which file it really is.  Anything that cannot be had raises
`DatasetError`, naming the file, the URL, the expected checksum and where to put the file
by hand.

Which hash guards what (none of the upstream sites publishes sha256 for every file):
- mnist: sha256 of the official files (the mirror is byte-identical).
- fashion-mnist: sha256 of the upstream gzip files (two independent public download
  scripts agree on them); mirror files pass by the sha256 of their *decompressed* IDX data.
- text8: no published sha256 or md5 could be found; a download is checked by size only
  (31,344,016 bytes) and a warning says so.
- analogy: the mirror's sha256 (gensim's copy of questions-words.txt).
- gutenberg8, gutenberg-cased, conll2003: local only; the mirror's sha256.  conll2003's eng.testb has no
  known checksum: it is optional, accepted with a warning.
- qqp: the mirror's train.tsv (its own split of the Quora release, see the mirror README).
  GLUE's QQP-clean.zip can be downloaded and its members extracted; its checksum is
  unknown (warned), and GLUE's train.tsv differs from the mirror's, so an extracted file
  is accepted by `validate` (the GLUE/Quora header line) rather than by checksum.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import shutil
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from .files import atomic_write

_CHUNK = 1 << 20  # 1 MiB reads: large enough for speed, small enough for a smooth bar


class DatasetError(RuntimeError):
    """A dataset file is missing, cannot be downloaded, or fails its checksum."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset.

    Args:
        filename: name inside the dataset folder, e.g. "train-images-idx3-ubyte.gz".
        url: where to download it; None for local-only files (license, or no stable URL).
        sha256: hex digest the file must have; None if unknown (then only `size` is checked,
            with a warning).
        size: bytes; None if unknown.
        validate: optional `fn(path)` that raises ValueError unless the file is acceptable;
            consulted for a local or extracted file whose size/sha256 differ.
        archive: filename of an entry of `DatasetSpec.archives` that holds this file (the
            file is then extracted from it; `url` is unused).
        member: the path of this file inside `archive`.
        optional: `fetch(name)` without `files=` includes it only if it is already on disk.
    """

    filename: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    validate: Callable[[Path], None] | None = None
    archive: str | None = None
    member: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its files and how a person gets them.

    Args:
        name: registry key, also the folder name under PMT_DATA_DIR and the cache.
        files: the `RemoteFile`s `fetch` returns.
        description: one line on what the data is.
        how_to_get: what to do when it cannot be downloaded (shown in errors).
        archives: downloadable archives (`RemoteFile`s, zip) that `files` are extracted from.
    """

    name: str
    files: tuple = ()
    description: str = ""
    how_to_get: str = ""
    archives: tuple = field(default=())

    def file(self, filename: str) -> RemoteFile:
        """The entry of `files` called `filename` (ValueError listing the files otherwise)."""
        for f in self.files:
            if f.filename == filename:
                return f
        raise ValueError(f"dataset {self.name!r} has no file {filename!r}; "
                         f"its files are {[f.filename for f in self.files]}")

    def archive(self, filename: str) -> RemoteFile:
        """The entry of `archives` called `filename`."""
        for f in self.archives:
            if f.filename == filename:
                return f
        raise ValueError(f"dataset {self.name!r} has no archive {filename!r}; "
                         f"its archives are {[f.filename for f in self.archives]}")


_REGISTRY: dict[str, DatasetSpec] = {}
# "path|size|mtime_ns|expected sha256" of files verified in this process (and, through the
# stamp file in the cache, in earlier ones).
_VERIFIED: set = set()
_WARNED: set = set()
STAMP_FILE = "verified.json"


def register(spec: DatasetSpec, overwrite: bool = False) -> DatasetSpec:
    """Add `spec` to the registry under `spec.name` (ValueError if taken, unless `overwrite`)."""
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register() expects a DatasetSpec, got {type(spec).__name__}")
    if spec.name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str):
    """Remove a dataset from the registry (no error if absent)."""
    _REGISTRY.pop(name, None)


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(_REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """The registered `DatasetSpec` called `name`; ValueError listing known names otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}") from None


def get_data_dir() -> Path | None:
    """`$PMT_DATA_DIR` as a Path, or None when unset (the read-only mirror)."""
    d = os.environ.get("PMT_DATA_DIR")
    return Path(d).expanduser() if d else None


def checkout_root() -> Path | None:
    """The PMT repository checkout this code runs from (an editable install), else None.

    Recognised by its `packages/` and `docs/` folders. What a checkout holds beside the packages,
    and a `pip install` of one package does not: the shipped weights of `models/`, and the
    monorepo's data mirror next to it.
    """
    for parent in Path(__file__).resolve().parents:
        if (parent / "packages").is_dir() and (parent / "docs").is_dir():
            return parent
    return None


def get_cache_dir() -> Path:
    """`$PMT_CACHE`, default `~/.cache/pmt` (where downloads go)."""
    d = os.environ.get("PMT_CACHE")
    return Path(d).expanduser() if d else Path.home() / ".cache" / "pmt"


# ----------------------------------------------------------------------------- checking

def sha256_of(path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _known_as(sha: str) -> str:
    """' (that is the sha256 of <dataset>/<file>)' when `sha` is a registered file's checksum."""
    for spec in _REGISTRY.values():
        for f in spec.files + spec.archives:
            if f.sha256 == sha:
                return f" (that is the sha256 of {spec.name}/{f.filename})"
    return ""


def _checksum_problem(path: Path, rf: RemoteFile) -> str | None:
    """None if `path` has `rf`'s size and sha256 (those known), else what differs, both checksums named."""
    size = path.stat().st_size
    problems = []
    if rf.size is not None and size != rf.size:
        problems.append(f"size {size:,} bytes, expected {rf.size:,}")
    if rf.sha256 is not None:
        got = sha256_of(path)
        if got != rf.sha256:
            problems.append(f"sha256 {got}{_known_as(got)}, expected {rf.sha256}")
    return "; ".join(problems) or None


def _stamp_key(path: Path, rf: RemoteFile) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{rf.sha256}"


def _stamped() -> set:
    try:
        return set(json.loads((get_cache_dir() / STAMP_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return set()          # none yet, unreadable or garbled: verify again (and rewrite it)


def _remember(key: str):
    """Record a verified file in memory and in the cache's stamp file (best effort)."""
    _VERIFIED.add(key)
    try:
        atomic_write(get_cache_dir() / STAMP_FILE, json.dumps(sorted(_stamped() | {key}), indent=0))
    except OSError:
        pass                  # a read-only cache only costs a re-check next time


def _warn_unverified(spec: DatasetSpec, rf: RemoteFile, path: Path):
    if rf.sha256 is None and (spec.name, rf.filename) not in _WARNED:
        _WARNED.add((spec.name, rf.filename))
        what = f"checked by size only ({rf.size} bytes)" if rf.size is not None else "not verified"
        warnings.warn(f"{spec.name}/{rf.filename}: no sha256 is known for this file; {path} is {what}",
                      stacklevel=3)


def _verify_found(spec: DatasetSpec, rf: RemoteFile, path: Path):
    """Accept a file found on disk: size+sha256 match, or else `rf.validate` passes."""
    key = _stamp_key(path, rf)
    if key in _VERIFIED or key in _stamped():
        _VERIFIED.add(key)
        return
    problem = _checksum_problem(path, rf)
    if problem is not None and rf.validate is not None:
        try:
            rf.validate(path)
            problem = None
        except (ValueError, OSError, EOFError, zlib.error) as e:
            problem += f"; and its content check failed: {e}"
    if problem is not None:
        raise DatasetError(
            f"{path} is not the expected {spec.name}/{rf.filename}: {problem}. "
            f"Replace it with a good copy{_source_hint(rf)}, or delete it"
            f"{' so fetch() downloads it again' if _downloadable(spec, rf) else ''}.")
    _warn_unverified(spec, rf, path)
    _remember(key)


def _downloadable(spec: DatasetSpec, rf: RemoteFile) -> bool:
    if rf.archive is not None:
        return spec.archive(rf.archive).url is not None
    return rf.url is not None


def _source_hint(rf: RemoteFile) -> str:
    return f" (from {rf.url})" if rf.url else ""


def _expected(rf: RemoteFile) -> str:
    sha = f"sha256 {rf.sha256}" if rf.sha256 else "sha256 unknown"
    size = f", {rf.size:,} bytes" if rf.size is not None else ""
    return sha + size


def _manual_fix(spec: DatasetSpec, filename: str, ddir: Path | None) -> str:
    where_data = f"$PMT_DATA_DIR/{spec.name}/ ({ddir / spec.name})" if ddir else \
        f"$PMT_DATA_DIR/{spec.name}/ (PMT_DATA_DIR is not set)"
    return f"put {filename} in {where_data} or in {get_cache_dir() / spec.name}/"


# ----------------------------------------------------------------------------- download

def _download(spec: DatasetSpec, rf: RemoteFile, dest: Path, ddir: Path | None):
    """Download `rf.url` to `dest` through `dest.part`: resume, verify, rename atomically."""
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if rf.size is not None and offset > rf.size:
        part.unlink()
        offset = 0
    try:
        if rf.size is None or offset < rf.size:
            _stream(rf, part, offset)
    except (URLError, OSError, ValueError, http.client.HTTPException) as e:
        # HTTPError is a URLError, timeouts are OSErrors, a cut connection an IncompleteRead
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, HTTPError) else \
            str(getattr(e, "reason", e))
        kept = (f" The {part.stat().st_size:,} bytes received so far are kept in {part}; "
                "the next fetch() resumes from there.") if part.exists() and part.stat().st_size else ""
        raise DatasetError(
            f"could not download {spec.name}/{rf.filename} from {rf.url}: {reason}. "
            f"Expected {_expected(rf)}.{kept} To install it by hand: download {rf.url} yourself "
            f"and {_manual_fix(spec, rf.filename, ddir)}.") from e
    problem = _checksum_problem(part, rf)
    if problem is not None:
        part.unlink()
        raise DatasetError(
            f"download of {spec.name}/{rf.filename} from {rf.url} is corrupt: {problem}; the file "
            f"was deleted. Try again, or fetch it by hand and {_manual_fix(spec, rf.filename, ddir)}.")
    _warn_unverified(spec, rf, dest)
    os.replace(part, dest)
    _remember(_stamp_key(dest, rf))


def _stream(rf: RemoteFile, part: Path, offset: int):
    """Copy the response body into `part`, appending from `offset` if the server honours Range."""
    from tqdm.auto import tqdm

    headers = {"User-Agent": "pmt-datasets/0.1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urlopen(Request(rf.url, headers=headers), timeout=60)
    except HTTPError as e:
        if e.code == 416 and offset:  # nothing left to send: the partial file is complete
            return
        raise
    with resp:
        resumed = offset and getattr(resp, "status", None) == 206
        if not resumed:
            offset = 0  # server sent the whole file (no Range support): start over
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else rf.size
        part.parent.mkdir(parents=True, exist_ok=True)  # only now: a failed connect leaves nothing
        with open(part, "ab" if resumed else "wb") as out, \
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=rf.filename, leave=False) as bar:
            received = 0
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if length is not None and received < int(length):
            raise ConnectionError(f"connection closed after {received:,} of {int(length):,} bytes")


def _extract(spec: DatasetSpec, rf: RemoteFile, archive: Path, dest: Path, ddir: Path | None):
    """Copy member `rf.member` of zip `archive` to `dest` (via a temp file + os.replace)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            if rf.member not in names:
                raise DatasetError(f"{archive} has no member {rf.member!r} (for {spec.name}/{rf.filename}); "
                                   f"it holds {names[:10]}{' ...' if len(names) > 10 else ''}")
            with z.open(rf.member) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
    except (zipfile.BadZipFile, OSError) as e:
        part.unlink(missing_ok=True)
        raise DatasetError(f"cannot extract {rf.member} from {archive}: {e}. Delete the archive "
                           f"so fetch() downloads it again, or {_manual_fix(spec, rf.filename, ddir)}.") from e
    os.replace(part, dest)
    try:
        _verify_found(spec, rf, dest)
    except DatasetError:
        dest.unlink()
        raise


# ----------------------------------------------------------------------------- fetch

def _locate(spec: DatasetSpec, rf: RemoteFile, ddir: Path | None) -> Path | None:
    """The verified local copy of `rf` (data dir first, then cache), or None."""
    for base in ((ddir,) if ddir else ()) + (get_cache_dir(),):
        path = base / spec.name / rf.filename
        if path.is_file():
            _verify_found(spec, rf, path)
            return path
    return None


def _obtain(spec: DatasetSpec, rf: RemoteFile, ddir: Path | None, download: bool) -> Path:
    found = _locate(spec, rf, ddir)
    if found is not None:
        return found
    dest = get_cache_dir() / spec.name / rf.filename
    if rf.archive is not None:
        arf = spec.archive(rf.archive)
        archive = _locate(spec, arf, ddir)
        if archive is None:
            _check_can_download(spec, arf, download, ddir, member_of=rf)
            _download(spec, arf, get_cache_dir() / spec.name / arf.filename, ddir)
            archive = get_cache_dir() / spec.name / arf.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        _extract(spec, rf, archive, dest, ddir)
        return dest
    _check_can_download(spec, rf, download, ddir)
    _download(spec, rf, dest, ddir)
    return dest


def _check_can_download(spec: DatasetSpec, rf: RemoteFile, download: bool, ddir: Path | None,
                        member_of: RemoteFile | None = None):
    target = member_of or rf
    also = f" (or {rf.filename}, which holds it)" if member_of else ""
    if rf.url is None:
        raise DatasetError(
            f"{spec.name}/{target.filename} is not on disk and has no public download URL"
            f"{': ' + spec.how_to_get if spec.how_to_get else ''}. Expected {_expected(target)}. "
            f"To use it, {_manual_fix(spec, target.filename, ddir)}{also}.")
    if not download:
        raise DatasetError(
            f"{spec.name}/{target.filename} is not on disk (download disabled). fetch({spec.name!r}) "
            f"would download it from {rf.url} (expected {_expected(rf)}); or "
            f"{_manual_fix(spec, target.filename, ddir)}{also}.")


def fetch(name: str, files=None, download: bool = True, data_dir: str | os.PathLike | None = None) -> dict:
    """Paths of a dataset's files, downloading into the cache what is not on disk.

    Args:
        name: a registered dataset, e.g. "mnist" (see `list_datasets()`).
        files: filenames to get (default: all required files, plus optional files that are
            already on disk).
        download: if False, only look on disk (a missing file raises DatasetError).
        data_dir: the read-only mirror to look in first (default `$PMT_DATA_DIR`).

    Returns:
        `{filename: Path}` in the spec's order.

    Raises:
        ValueError: unknown dataset or file name.
        DatasetError: a file is missing and cannot be downloaded, or fails its checksum;
            the message names the file, the URL, the expected checksum and the manual fix.

    Example (a dataset of one local file; `fetch("mnist")` works the same way and, without a
    mirror, downloads MNIST's four files into the cache on first use):
        >>> from pathlib import Path
        >>> Path("data/toy").mkdir(parents=True)
        >>> Path("data/toy/words.txt").write_text("the cat sat")
        11
        >>> spec = register(DatasetSpec("toy", files=(RemoteFile("words.txt", sha256=sha256_of("data/toy/words.txt")),)))
        >>> fetch("toy", data_dir="data")        # data_dir: in place of $PMT_DATA_DIR
        {'words.txt': PosixPath('data/toy/words.txt')}
        >>> unregister("toy")
    """
    spec = get_spec(name)
    ddir = Path(data_dir).expanduser() if data_dir is not None else get_data_dir()
    if files is None:
        wanted = [rf for rf in spec.files if not rf.optional]
        optional = [rf for rf in spec.files if rf.optional]
    else:
        if isinstance(files, str):
            files = [files]
        wanted, optional = [spec.file(f) for f in files], []
    wanted_names = {rf.filename for rf in wanted}
    optional_names = {rf.filename for rf in optional}
    out = {}
    for rf in spec.files:
        if rf.filename in wanted_names:
            out[rf.filename] = _obtain(spec, rf, ddir, download)
        elif rf.filename in optional_names:
            found = _locate(spec, rf, ddir)
            if found is not None:
                out[rf.filename] = found
    return out


# ----------------------------------------------------------------------------- validators

def idx_gz_validator(shape: tuple, content_sha256: str) -> Callable[[Path], None]:
    """A `validate` for gzip IDX files: the decompressed header must announce `shape` (uint8)
    and the decompressed bytes must hash to `content_sha256` (gzip's own CRC-32 and length
    trailer are checked on the way)."""
    from .idx import IDXError, read_idx_header

    def validate(path: Path):
        h = hashlib.sha256()
        with gzip.open(path, "rb") as f:
            try:
                dtype, got_shape = read_idx_header(f, path)
            except IDXError as e:
                raise ValueError(str(e)) from None
            if got_shape != tuple(shape) or dtype.itemsize != 1:
                raise ValueError(f"decompressed IDX header says {dtype} {got_shape}, expected uint8 {tuple(shape)}")
            f.seek(0)
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        if h.hexdigest() != content_sha256:
            raise ValueError(f"decompressed sha256 {h.hexdigest()}, expected {content_sha256}")
    return validate


def header_validator(first_line: str) -> Callable[[Path], None]:
    """A `validate` for text tables: the file's first line must equal `first_line`."""
    def validate(path: Path):
        with open(path, "rb") as f:
            line = f.readline().rstrip(b"\r\n").decode("utf-8", "replace")
        if line != first_line:
            raise ValueError(f"first line {line[:80]!r}, expected {first_line!r}")
    return validate


# ----------------------------------------------------------------------------- registry

_MNIST_FILES = [  # filename, shape, gz bytes, gz sha256 (official files; mirror is identical)
    ("train-images-idx3-ubyte.gz", 9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    ("train-labels-idx1-ubyte.gz", 28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    ("t10k-images-idx3-ubyte.gz", 1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    ("t10k-labels-idx1-ubyte.gz", 4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
]
register(DatasetSpec(
    "mnist",
    files=tuple(RemoteFile(f, f"https://ossci-datasets.s3.amazonaws.com/mnist/{f}", sha, size)
                for f, size, sha in _MNIST_FILES),
    description="MNIST handwritten digits: 60,000 + 10,000 28x28 grey images, IDX gzip files.",
    how_to_get="https://ossci-datasets.s3.amazonaws.com/mnist/ (a copy of yann.lecun.com/exdb/mnist/)",
))

_FASHION_FILES = [
    # filename, upstream gz bytes, upstream gz sha256, IDX shape, decompressed sha256
    ("train-images-idx3-ubyte.gz", 26_421_880, "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
     (60000, 28, 28), "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("train-labels-idx1-ubyte.gz", 29_515, "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
     (60000,), "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("t10k-images-idx3-ubyte.gz", 4_422_102, "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
     (10000, 28, 28), "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("t10k-labels-idx1-ubyte.gz", 5_148, "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
     (10000,), "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
]
register(DatasetSpec(
    "fashion-mnist",
    files=tuple(RemoteFile(f, f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f}", sha, size,
                           validate=idx_gz_validator(shape, content_sha))
                for f, size, sha, shape, content_sha in _FASHION_FILES),
    description="Fashion-MNIST (Zalando): 60,000 + 10,000 28x28 grey clothing images, IDX gzip files.",
    how_to_get="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ "
               "(see github.com/zalandoresearch/fashion-mnist)",
))

register(DatasetSpec(
    "text8",
    files=(RemoteFile("text8.zip", "http://mattmahoney.net/dc/text8.zip", None, 31_344_016),),
    description="text8: the first 10^8 characters of cleaned English Wikipedia (one zip member 'text8').",
    how_to_get="http://mattmahoney.net/dc/textdata.html",
))

register(DatasetSpec(
    "gutenberg8",
    files=(RemoteFile("gutenberg8.zip", None,
                      "a5c74648194f7df6f74a45fd9dd0d9cf76c76f0a03fe22b044ea55dd451388c9", 34_607_020),
           RemoteFile("gutenberg8.books.tsv", None,
                      "c502f1ead93192d2a01469f3838a8d9e7c0de983d5ac2d266bb8d328f537a50e", 34_985, optional=True)),
    description="gutenberg8: 10^8 characters of Project Gutenberg books in text8's format (a text8 substitute).",
    how_to_get="it exists only in the project's data mirror (see the mirror's README.md for the recipe)",
))

register(DatasetSpec(
    "gutenberg-cased",
    files=(RemoteFile("gutenberg-cased.txt.gz", None,
                      "f58e1e8dd965d091453b14d6ad4b04727c999ec1c0aafe65e67609d302815b23", 38_691_135),
           RemoteFile("gutenberg-cased.books.tsv", None,
                      "c502f1ead93192d2a01469f3838a8d9e7c0de983d5ac2d266bb8d328f537a50e", 34_985, optional=True)),
    description="gutenberg-cased: gutenberg8's 312 books with case and punctuation, one paragraph per line "
                "(UTF-8, gzip; a blank line between books), for pretraining.",
    how_to_get="it exists only in the project's data mirror (see the mirror's README.md for the recipe)",
))

register(DatasetSpec(
    "analogy",
    files=(RemoteFile("questions-words.txt",
                      "https://raw.githubusercontent.com/tmikolov/word2vec/master/questions-words.txt",
                      "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36", 603_955),),
    description="word2vec's 19,544 analogy questions 'a b c d' in 14 sections (Mikolov et al. 2013).",
    how_to_get="questions-words.txt from the word2vec repository (also shipped in gensim's test data)",
))

register(DatasetSpec(
    "conll2003",
    files=(RemoteFile("eng.train", None,
                      "90f4cdcaf844d16a2981727ee793be3131af511057f778c63e5de338c15d97f1", 3_283_420),
           RemoteFile("eng.testa", None,
                      "4d39793e09ab4a8cbe666550955db92431a858ff252beb039c603ca98cc97901", 827_443),
           RemoteFile("eng.testb", None, None, None, optional=True)),
    description="CoNLL-2003 English NER (Reuters): 'token POS chunk NER' columns, IOB1 tags.",
    how_to_get="the Reuters-based files may not be redistributed, so there is no public download; "
               "see https://www.clips.uantwerpen.be/conll2003/ner/ to build them from the Reuters corpus",
))

_QQP_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
register(DatasetSpec(
    "qqp",
    files=(RemoteFile("train.tsv", None,
                      "8a77347a6a5b3f3cb3c9df4ec1897a84d47dc8561b799a8910b164d60a86cdeb", 52_274_981,
                      validate=header_validator(_QQP_HEADER), archive="QQP-clean.zip", member="QQP/train.tsv"),
           RemoteFile("dev.tsv", None, None, None, validate=header_validator(_QQP_HEADER),
                      archive="QQP-clean.zip", member="QQP/dev.tsv", optional=True)),
    archives=(RemoteFile("QQP-clean.zip", "https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip"),),
    description="Quora Question Pairs: 'id qid1 qid2 question1 question2 is_duplicate' TSV.",
    how_to_get="GLUE's QQP-clean.zip (train.tsv/dev.tsv are extracted from it); "
               "the project mirror holds its own train.tsv split",
))
