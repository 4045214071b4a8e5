"""Resumable, verified downloads of catalog files.

A file is fetched into `<name>.part`, resumed with an HTTP Range request when a `.part` is
already there (a server that ignores Range answers 200 and the file restarts from zero), checked
against its pinned size and sha256, and only then renamed to its final name. Zip archives are
then unpacked into a temporary folder and renamed into place, so a final name always holds a
complete, verified result.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from morec_core.data.atomic import atomic_directory
from morec_core.data.catalog import CatalogEntry, RemoteFile
from morec_core.data.errors import DataError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, remote: RemoteFile) -> None:
    """Raise (after deleting `path`, which can never become valid) on a size or sha256 mismatch."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        path.unlink()
        raise DataError(f"size {size} bytes, expected {remote.size}; deleted, download again",
                        path=path)
    if remote.sha256 is not None:
        actual = sha256_of(path)
        if actual != remote.sha256:
            path.unlink()
            raise DataError(f"sha256 {actual}, expected {remote.sha256}; deleted, download again",
                            path=path)


def download_file(remote: RemoteFile, folder: Path, *, progress: bool = True,
                  timeout: float = 60.0) -> Path:
    """`folder/remote.filename`, downloaded (or resumed) and verified; reused if present."""
    from morec_core.data.progress import progress_bar

    final = folder / remote.filename
    if final.is_file():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (remote.filename + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(remote.url, headers={"User-Agent": "morec"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not offset:
            raise DataError(f"HTTP {error.code} {error.reason}", path=remote.url) from None
        response = None  # 416: the .part already holds the whole file; verify it below.
    except (urllib.error.URLError, TimeoutError) as error:
        raise DataError(f"cannot download ({error})", path=remote.url) from None
    if response is not None:
        with response:
            resumed = response.status == 206
            if resumed:
                served = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
                if not served or int(served.group(1)) != offset:
                    raise DataError("server resumed at the wrong offset", path=remote.url)
            else:
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length else remote.size
            with part.open("ab" if resumed else "wb") as handle, \
                    progress_bar(total=total, initial=offset, unit="B", unit_scale=True,
                                 desc=remote.filename, enabled=progress) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    bar.update(len(block))
    _verify(part, remote)
    part.replace(final)
    return final


def extract_zip(archive: Path, destination: Path) -> Path:
    """Unpack `archive` into `destination` (atomically); members escaping it are refused."""
    if destination.is_dir():
        return destination
    try:
        with zipfile.ZipFile(archive) as bundle, atomic_directory(destination) as folder:
            for member in bundle.infolist():
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise DataError(f"archive member {member.filename!r} escapes the folder",
                                    path=archive)
                target = folder.joinpath(*name.parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
    except zipfile.BadZipFile as error:
        raise DataError(f"not a valid zip archive ({error})", path=archive) from None
    return destination


def fetch(entry: CatalogEntry, root: Path, *, progress: bool = True) -> Path:
    """Download (and unpack) every file of `entry` under `root/entry.name`; return the folder
    to prepare (`entry.folder` inside it)."""
    if not entry.files:
        raise DataError(f"no direct download: {entry.manual}", path=entry.name)
    folder = root / entry.name
    for remote in entry.files:
        path = download_file(remote, folder, progress=progress)
        if remote.extract:
            extract_zip(path, folder / path.name.removesuffix(".zip"))
    return folder / entry.folder if entry.folder else folder
