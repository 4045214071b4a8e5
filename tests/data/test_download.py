"""Downloads against a local HTTP server (127.0.0.1) that the test starts: resume with Range,
checksum verification, atomic rename, zip extraction."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from morec_core.data import catalog as catalog_module
from morec_core.data.catalog import CATALOG, CatalogEntry, RemoteFile, catalog_entry
from morec_core.data.download import download_file, fetch
from morec_core.data.errors import DataError
from morec_tui.cli import app

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class Server:
    """Serves `files` by path; honours `Range: bytes=N-` unless `ranges` is False."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                wanted = self.headers.get("Range")
                server.requests.append((self.path, wanted))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
                if wanted and server.ranges:
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def _remote(server, name="data.bin", body=PAYLOAD, **pinned) -> RemoteFile:
    server.files[f"/{name}"] = body
    return RemoteFile(url=f"{server.url}/{name}", filename=name, **pinned)


def test_download_verifies_and_renames(server, tmp_path):
    remote = _remote(server, sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD))
    path = download_file(remote, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "data.bin.part").exists()
    download_file(remote, tmp_path, progress=False)
    assert len(server.requests) == 1  # an existing verified file is not fetched again


def test_download_resumes_a_part_file_with_range(server, tmp_path):
    remote = _remote(server, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:30_000])
    download_file(remote, tmp_path, progress=False)
    assert server.requests == [("/data.bin", "bytes=30000-")]
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_download_restarts_when_the_server_ignores_range(server, tmp_path):
    server.ranges = False
    remote = _remote(server, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    (tmp_path / "data.bin.part").write_bytes(b"stale bytes")
    download_file(remote, tmp_path, progress=False)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_complete_part_file_answered_416_is_verified(server, tmp_path):
    remote = _remote(server, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    assert download_file(remote, tmp_path, progress=False).read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    remote = _remote(server, sha256="0" * 64)
    with pytest.raises(DataError, match=r"data\.bin\.part: sha256 .* expected 0000"):
        download_file(remote, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_names_the_url(server, tmp_path):
    remote = RemoteFile(url=f"{server.url}/absent.zip", filename="absent.zip")
    with pytest.raises(DataError, match=r"absent\.zip: HTTP 404"):
        download_file(remote, tmp_path, progress=False)


def test_fetch_downloads_and_unpacks_a_catalog_entry(server, tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("toy/ratings.csv", "userId,movieId,rating,timestamp\n")
    remote = _remote(server, "toy.zip", archive.getvalue(), extract=True)
    entry = CatalogEntry(name="toy", source="movielens", summary="", folder="toy/toy",
                         files=(remote,))
    folder = fetch(entry, tmp_path, progress=False)
    assert folder == tmp_path / "toy" / "toy" / "toy"
    assert (folder / "ratings.csv").is_file()


def test_zip_members_may_not_escape(server, tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../evil.txt", "x")
    remote = _remote(server, "evil.zip", archive.getvalue(), extract=True)
    entry = CatalogEntry(name="evil", source="pairs", summary="", files=(remote,))
    with pytest.raises(DataError, match="escapes the folder"):
        fetch(entry, tmp_path, progress=False)
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "evil" / "evil").exists()


def test_catalog_pins_only_what_it_can_and_says_how_to_get_the_rest():
    assert set(CATALOG) >= {"mind-small", "mind-large", "ml-latest-small", "ml-1m",
                            "microlens-50k", "hm", "bili"}
    for entry in CATALOG.values():
        assert entry.files or entry.manual, entry.name
        for remote in entry.files:
            assert remote.url.startswith("https://")
            assert remote.sha256 is None or len(remote.sha256) == 64
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: mind-small"):
        catalog_entry("nope")


def test_cli_download_says_what_is_not_pinned_and_what_to_run_next(server, tmp_path, monkeypatch):
    remote = _remote(server, "MicroLens-50k_pairs.tsv", b"1\t1 2 3 4 5\n")
    entry = CatalogEntry(name="tiny", source="microlens", summary="", files=(remote,),
                         licence="test licence")
    monkeypatch.setitem(catalog_module.CATALOG, "tiny", entry)
    result = CliRunner().invoke(app, ["data", "download", "tiny", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "MicroLens-50k_pairs.tsv: size/checksum not pinned" in result.stderr
    assert f"next: morec data prepare microlens --path {tmp_path / 'tiny'}" in result.stdout
    assert (tmp_path / "tiny" / "MicroLens-50k_pairs.tsv").read_bytes() == b"1\t1 2 3 4 5\n"
