"""Download corpora that have a public archive: fetch, resume, verify, extract safely.

`download(corpus, dest)` fetches each archive of the corpus into DEST, with a progress bar on
stderr; a partial `<archive>.part` left by an interrupted run is resumed with an HTTP Range
request; the finished archive is checked against its published checksum before it is
extracted (a mismatch deletes it and raises AsrError); extraction refuses members that would
land outside DEST (absolute paths, `..`, links pointing out, devices). Nothing is fetched again
when the extracted folder is there (extraction moves whole folders into place, then writes a
`.<archive>.done` marker with the size and checksums) or when the archive is there and verifies.

Checksums and where they come from:
- yesno and LibriSpeech SLR12: sha256 published in torchaudio.datasets (yesno.py, librispeech.py).
- Mini LibriSpeech SLR31: md5 published in PaddleSpeech's mini_librispeech.py (and agreeing
  copies elsewhere).
- AN4 (an4_sphere.tar.gz, NIST SPHERE audio that soundfile reads): CMU publishes no checksum; the
  sha256 is the one pinned in a public NeMo AN4 training script for the S3 copy of the same file.
  An archive without a known checksum is accepted with a warning; its size and sha256 are
  recorded in its done marker.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from asr.errors import AsrError
from asr.fileio import atomic_write

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # one MiB per read: smooth progress, little memory
TIMEOUT_SECONDS = 60  # a connection idle this long is a failure, not a hang
OPENSLR = "https://www.openslr.org/resources"


@dataclass(frozen=True)
class Archive:
    url: str
    top: str  # the folder the archive extracts to, relative to DEST
    sha256: str | None = None
    md5: str | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _librispeech(part: str, slr: int, **checksum) -> Archive:
    return Archive(f"{OPENSLR}/{slr}/{part}.tar.gz", f"LibriSpeech/{part}", **checksum)


# corpus -> part -> archive. Sources of the checksums: see the module docstring.
ARCHIVES: dict[str, dict[str, Archive]] = {
    "yesno": {"waves_yesno": Archive(
        f"{OPENSLR}/1/waves_yesno.tar.gz", "waves_yesno",
        sha256="c3f49e0cca421f96b75b41640749167b52118f232498667ca7a5f9416aef8e73")},
    "an4": {"an4": Archive(
        "http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz", "an4",
        sha256="a0525579493735d32b60fb6fa5975dd0eaacde087b0a4eeb7f13b7ef33077b12")},
    "librispeech": {
        "dev-clean": _librispeech("dev-clean", 12, sha256="76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3"),
        "dev-other": _librispeech("dev-other", 12, sha256="12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365"),
        "test-clean": _librispeech("test-clean", 12, sha256="39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23"),
        "test-other": _librispeech("test-other", 12, sha256="d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29"),
        "train-clean-100": _librispeech("train-clean-100", 12, sha256="d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2"),
        "train-clean-360": _librispeech("train-clean-360", 12, sha256="146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf"),
        "train-other-500": _librispeech("train-other-500", 12, sha256="ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2"),
        "train-clean-5": _librispeech("train-clean-5", 31, md5="5df7d4e78065366204ca6845bb08f490"),
        "dev-clean-2": _librispeech("dev-clean-2", 31, md5="6d7ab67ac6a1d2c993d050e16d61080d"),
    },
}
# What `download` fetches when no parts are named (LibriSpeech: the usual 100-hour setup).
DEFAULT_PARTS = {"yesno": ("waves_yesno",), "an4": ("an4",),
                 "librispeech": ("train-clean-100", "dev-clean", "test-clean")}
# The folder under DEST that `asr prepare` reads.
PREPARE_ROOT = {"yesno": ".", "an4": "an4", "librispeech": "LibriSpeech"}
DOWNLOADABLE = tuple(ARCHIVES)


def download(corpus: str, dest: str | os.PathLike, parts: list[str] | None = None,
             mirror: str | None = None) -> Path:
    """Fetch and extract the corpus under `dest`; return the folder to pass to `prepare`.

    `mirror`: a base URL that replaces each archive URL's folder (e.g. an OpenSLR mirror, or a
    local copy), the file name is kept.
    """
    if corpus not in ARCHIVES:
        raise AsrError(f"{corpus}: no public download; downloadable corpora: {', '.join(DOWNLOADABLE)}")
    dest = Path(dest)
    for part in parts or DEFAULT_PARTS[corpus]:
        if part not in ARCHIVES[corpus]:
            raise AsrError(f"{corpus}: unknown part {part!r}; known: {', '.join(ARCHIVES[corpus])}")
        archive = ARCHIVES[corpus][part]
        if mirror:
            archive = Archive(f"{mirror.rstrip('/')}/{archive.filename}", archive.top, archive.sha256, archive.md5)
        fetch(archive, dest)
    return (dest / PREPARE_ROOT[corpus]).resolve()


def fetch(archive: Archive, dest: Path) -> Path:
    """Download (or resume), verify and extract one archive; return the extracted folder."""
    dest.mkdir(parents=True, exist_ok=True)
    done = dest / f".{archive.filename}.done"
    top = dest / archive.top
    # Extraction moves complete folders into place, so an existing folder is a finished one
    # (ours, with its done marker, or one the user extracted by hand).
    if top.exists():
        log.info("%s: already there%s, not downloading again", top, "" if done.is_file() else " (extracted by hand?)")
        return top
    path = dest / archive.filename
    if path.is_file():
        digests = verify(path, archive)  # an archive left by an earlier run: check it, don't refetch
    else:
        partial = path.with_name(path.name + ".part")
        fetch_bytes(archive.url, partial)
        digests = verify(partial, archive)
        os.replace(partial, path)
    extract(path, dest)
    if not top.exists():
        raise AsrError(f"{path}: archive did not contain {archive.top}/")
    record = {"url": archive.url, "bytes": path.stat().st_size, **digests,
              "published_checksum": bool(archive.sha256 or archive.md5)}
    with atomic_write(done) as f:
        f.write(json.dumps(record, indent=1) + "\n")
    return top


def fetch_bytes(url: str, partial: Path) -> None:
    """Append the rest of `url` to `partial`, resuming from its current size."""
    offset = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the partial file already holds every byte
            return
        raise AsrError(f"{url}: download failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise AsrError(f"{url}: download failed: {getattr(e, 'reason', e)}") from None
    with response:
        if offset and response.status != 206:
            log.warning("%s: server ignored the resume request; downloading from the start", url)
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length else None
        mode = "ab" if offset else "wb"
        with open(partial, mode) as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                               unit_divisor=1024, desc=partial.name[:-5], file=sys.stderr) as bar:
            try:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as e:
                raise AsrError(f"{url}: download interrupted after {out.tell()} bytes ({e}); "
                               f"rerun to resume from {partial}") from None
    if total is not None and partial.stat().st_size < total:
        raise AsrError(f"{url}: connection closed early ({partial.stat().st_size} of {total} bytes); "
                       f"rerun to resume from {partial}")


def file_digests(path: Path) -> dict[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(CHUNK_BYTES):
            sha256.update(block)
            md5.update(block)
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def verify(path: Path, archive: Archive) -> dict[str, str]:
    """Check the published checksum; delete the file and raise on a mismatch."""
    digests = file_digests(path)
    for kind in ("sha256", "md5"):
        expected = getattr(archive, kind)
        if expected and digests[kind] != expected.lower():
            path.unlink()
            raise AsrError(f"{path}: {kind} checksum mismatch (expected {expected}, got {digests[kind]}); "
                           f"deleted it, rerun to download again")
    if not (archive.sha256 or archive.md5):
        log.warning("%s: no published checksum to verify; size %d bytes, sha256 %s recorded",
                    path, path.stat().st_size, digests["sha256"])
    return digests


def safe_members(tar: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    """Every member, or AsrError if one would be written outside `dest`."""
    root = dest.resolve()
    members = tar.getmembers()
    for member in members:
        target = (root / member.name).resolve()
        if member.name.startswith(("/", "\\")) or not target.is_relative_to(root):
            raise AsrError(f"{tar.name}: unsafe member {member.name!r} points outside {dest}")
        if member.issym() or member.islnk():
            base = target.parent if member.issym() else root
            if os.path.isabs(member.linkname) or not (base / member.linkname).resolve().is_relative_to(root):
                raise AsrError(f"{tar.name}: unsafe link {member.name!r} -> {member.linkname!r}")
        elif not (member.isfile() or member.isdir()):
            raise AsrError(f"{tar.name}: unsupported member {member.name!r} (device or fifo)")
    return members


def extract(path: Path, dest: Path) -> None:
    """Extract into a temporary folder inside `dest`, then move the top-level entries in place."""
    try:
        with tarfile.open(path) as tar, tempfile.TemporaryDirectory(dir=dest, prefix=".extract-") as tmp:
            members = safe_members(tar, dest)
            # The 'data' filter (Python >= 3.11.4) repeats the checks above and drops unsafe modes.
            tar.extractall(tmp, members=tqdm(members, desc=f"extract {path.name}", unit="file", file=sys.stderr),
                           filter="data")
            for entry in Path(tmp).iterdir():
                target = dest / entry.name
                if target.is_dir() and entry.is_dir():
                    merge_tree(entry, target)  # e.g. LibriSpeech/ shared by several parts
                else:
                    if target.is_dir():
                        shutil.rmtree(target)
                    os.replace(entry, target)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise AsrError(f"{path}: cannot extract archive: {e}") from None


def merge_tree(src: Path, dst: Path) -> None:
    for entry in src.iterdir():
        target = dst / entry.name
        if entry.is_dir() and target.is_dir():
            merge_tree(entry, target)
        else:
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)
