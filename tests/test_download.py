"""Download logic against a local HTTP server (these machines have no internet).

The server serves a small waves_yesno.tar.gz built from real yesno recordings and honours
`Range: bytes=N-` like OpenSLR's servers, so resume, checksum and no-re-download are exercised
over real HTTP.
"""
import hashlib
import http.server
import importlib
import io
import tarfile
import threading

import pytest

from asr.corpora import prepare
from asr.datadir import read_datadir, validate_datadir
from asr.errors import AsrError

# The module, not the function of the same name that asr.corpora re-exports.
dl = importlib.import_module("asr.corpora.download")
NUM_WAVS = 4


class RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    honour_range = True
    cut_after: int | None = None  # drop the connection after this many body bytes, once

    def do_GET(self):
        self.log.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        header = self.headers.get("Range")
        if header and self.honour_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if RangeHandler.cut_after is not None:
            self.wfile.write(body[start:start + RangeHandler.cut_after])
            RangeHandler.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    RangeHandler.files, RangeHandler.log, RangeHandler.honour_range, RangeHandler.cut_after = {}, [], True, None
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def make_tar(members: dict[str, bytes], links: dict[str, str] = {}) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def yesno_archive(data_root, server, monkeypatch):
    """Serve a small real yesno archive at /waves_yesno.tar.gz; point the registry at its sha256."""
    wavs = sorted((data_root / "yesno/waves_yesno").glob("*.wav"))[:NUM_WAVS]
    body = make_tar({f"waves_yesno/{w.name}": w.read_bytes() for w in wavs})
    _, url = server
    RangeHandler.files["/waves_yesno.tar.gz"] = body
    archive = dl.Archive(f"{url}/waves_yesno.tar.gz", "waves_yesno", sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(dl.ARCHIVES, "yesno", {"waves_yesno": archive})
    return body, url, wavs


def test_full_download_then_no_redownload(yesno_archive, tmp_path):
    body, url, wavs = yesno_archive
    root = dl.download("yesno", tmp_path / "dl")
    assert root == (tmp_path / "dl").resolve()
    extracted = sorted((root / "waves_yesno").glob("*.wav"))
    assert [w.name for w in extracted] == [w.name for w in wavs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(extracted, wavs))
    assert (tmp_path / "dl/waves_yesno.tar.gz").read_bytes() == body
    assert RangeHandler.log == [("/waves_yesno.tar.gz", None)]
    # Second call: the extracted tree and its marker are there, so no request at all.
    dl.download("yesno", tmp_path / "dl")
    assert len(RangeHandler.log) == 1
    # With the tree gone but the archive kept, it re-extracts from the verified archive, offline.
    for wav in extracted:
        wav.unlink()
    (tmp_path / "dl/waves_yesno").rmdir()
    (tmp_path / "dl/.waves_yesno.tar.gz.done").unlink()
    dl.download("yesno", tmp_path / "dl")
    assert len(RangeHandler.log) == 1 and len(list((root / "waves_yesno").glob("*.wav"))) == NUM_WAVS
    # The downloaded tree prepares like the shared copy.
    out = prepare("yesno", root, tmp_path / "data")
    assert validate_datadir(out["train"]) == [] and len(read_datadir(out["train"])) == NUM_WAVS


def test_tree_extracted_by_hand_is_kept(yesno_archive, tmp_path):
    (tmp_path / "dl/waves_yesno").mkdir(parents=True)
    assert dl.download("yesno", tmp_path / "dl") == (tmp_path / "dl").resolve()
    assert RangeHandler.log == []


def test_resume_after_truncated_partial(yesno_archive, tmp_path):
    body, url, _ = yesno_archive
    dest = tmp_path / "dl"
    dest.mkdir()
    half = len(body) // 2
    (dest / "waves_yesno.tar.gz.part").write_bytes(body[:half])
    dl.download("yesno", dest)
    assert RangeHandler.log == [("/waves_yesno.tar.gz", f"bytes={half}-")]
    assert (dest / "waves_yesno.tar.gz").read_bytes() == body
    assert not (dest / "waves_yesno.tar.gz.part").exists()
    assert len(list((dest / "waves_yesno").glob("*.wav"))) == NUM_WAVS


def test_dropped_connection_then_resume(yesno_archive, tmp_path):
    body, url, _ = yesno_archive
    RangeHandler.cut_after = 1000
    with pytest.raises(AsrError, match="rerun to resume"):
        dl.download("yesno", tmp_path / "dl")
    assert (tmp_path / "dl/waves_yesno.tar.gz.part").stat().st_size == 1000
    dl.download("yesno", tmp_path / "dl")
    assert RangeHandler.log == [("/waves_yesno.tar.gz", None), ("/waves_yesno.tar.gz", "bytes=1000-")]
    assert (tmp_path / "dl/waves_yesno.tar.gz").read_bytes() == body


def test_complete_partial_gets_416_and_is_kept(yesno_archive, tmp_path):
    body, url, _ = yesno_archive
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "waves_yesno.tar.gz.part").write_bytes(body)
    dl.download("yesno", dest)
    assert RangeHandler.log == [("/waves_yesno.tar.gz", f"bytes={len(body)}-")]
    assert (dest / "waves_yesno.tar.gz").read_bytes() == body


def test_server_without_range_restarts(yesno_archive, tmp_path):
    body, url, _ = yesno_archive
    RangeHandler.honour_range = False
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "waves_yesno.tar.gz.part").write_bytes(body[:100])
    dl.download("yesno", dest)
    assert (dest / "waves_yesno.tar.gz").read_bytes() == body  # not the first 100 bytes twice


def test_checksum_mismatch(yesno_archive, tmp_path, monkeypatch):
    body, url, _ = yesno_archive
    wrong = dl.Archive(f"{url}/waves_yesno.tar.gz", "waves_yesno", sha256="0" * 64)
    monkeypatch.setitem(dl.ARCHIVES, "yesno", {"waves_yesno": wrong})
    with pytest.raises(AsrError, match=r"waves_yesno\.tar\.gz\.part: sha256 checksum mismatch"):
        dl.download("yesno", tmp_path / "dl")
    assert not list((tmp_path / "dl").iterdir())  # the bad download is deleted, nothing extracted
    # A corrupted partial file (wrong first bytes) is caught after resuming, too.
    (tmp_path / "dl/waves_yesno.tar.gz.part").write_bytes(b"x" * 50)
    monkeypatch.setitem(dl.ARCHIVES, "yesno", {"waves_yesno": dl.Archive(
        f"{url}/waves_yesno.tar.gz", "waves_yesno", md5=hashlib.md5(body).hexdigest())})
    with pytest.raises(AsrError, match="md5 checksum mismatch"):
        dl.download("yesno", tmp_path / "dl")


def test_md5_and_unknown_checksum(yesno_archive, tmp_path, monkeypatch, caplog):
    body, url, _ = yesno_archive
    monkeypatch.setitem(dl.ARCHIVES, "yesno", {"waves_yesno": dl.Archive(f"{url}/waves_yesno.tar.gz", "waves_yesno")})
    dl.download("yesno", tmp_path / "dl")
    assert "no published checksum" in caplog.text
    record = (tmp_path / "dl/.waves_yesno.tar.gz.done").read_text()
    assert hashlib.sha256(body).hexdigest() in record and str(len(body)) in record


def test_mirror_replaces_url_folder(yesno_archive, tmp_path, monkeypatch):
    body, url, _ = yesno_archive
    RangeHandler.files["/mirror/waves_yesno.tar.gz"] = body
    dl.download("yesno", tmp_path / "dl", mirror=f"{url}/mirror/")
    assert RangeHandler.log == [("/mirror/waves_yesno.tar.gz", None)]


def test_http_errors(server, tmp_path):
    _, url = server
    with pytest.raises(AsrError, match=r"missing\.tar\.gz: download failed: HTTP 404"):
        dl.fetch(dl.Archive(f"{url}/missing.tar.gz", "x", sha256="0" * 64), tmp_path)
    with pytest.raises(AsrError, match="no public download"):
        dl.download("kathleen", tmp_path)
    with pytest.raises(AsrError, match="unknown part"):
        dl.download("librispeech", tmp_path, parts=["train-clean-1000"])


@pytest.mark.parametrize("members, links", [
    ({"../evil.txt": b"x"}, {}),
    ({"/tmp/evil.txt": b"x"}, {}),
    ({"top/ok.txt": b"x"}, {"top/link": "../../outside"}),
    ({"top/ok.txt": b"x"}, {"top/abs": "/etc/passwd"}),
])
def test_unsafe_archives_are_refused(server, tmp_path, members, links):
    _, url = server
    body = make_tar(members, links)
    RangeHandler.files["/evil.tar.gz"] = body
    dest = tmp_path / "dest"
    with pytest.raises(AsrError, match="unsafe"):
        dl.fetch(dl.Archive(f"{url}/evil.tar.gz", "top", sha256=hashlib.sha256(body).hexdigest()), dest)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "top").exists()


def test_parts_merge_into_one_tree(server, tmp_path, monkeypatch):
    """Two LibriSpeech-style archives share the LibriSpeech/ folder; both parts survive."""
    _, url = server
    parts = {}
    for part in ("dev-clean-2", "train-clean-5"):
        body = make_tar({f"LibriSpeech/{part}/1/2/1-2.trans.txt": b"1-2-0000 HI\n", "LibriSpeech/README.TXT": b"r"})
        RangeHandler.files[f"/{part}.tar.gz"] = body
        parts[part] = dl.Archive(f"{url}/{part}.tar.gz", f"LibriSpeech/{part}", md5=hashlib.md5(body).hexdigest())
    monkeypatch.setitem(dl.ARCHIVES, "librispeech", parts)
    root = dl.download("librispeech", tmp_path, parts=list(parts))
    assert root == (tmp_path / "LibriSpeech").resolve()
    assert sorted(p.name for p in root.iterdir()) == ["README.TXT", "dev-clean-2", "train-clean-5"]


def test_published_checksums_are_well_formed():
    for corpus, parts in dl.ARCHIVES.items():
        for part, archive in parts.items():
            assert archive.sha256 or archive.md5, f"{corpus}/{part} has no checksum"
            assert archive.sha256 is None or len(archive.sha256) == 64
            assert archive.md5 is None or len(archive.md5) == 32
            assert archive.url.endswith(".tar.gz")


def test_cli_download(yesno_archive, tmp_path, capsys):
    from asr.cli import main

    body, url, _ = yesno_archive
    assert main(["download", "yesno", str(tmp_path / "dl"), "--mirror", url]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "dl").resolve())
    assert main(["download", "fsdd", str(tmp_path / "dl")]) == 1
    assert "fsdd: no public download" in capsys.readouterr().err
