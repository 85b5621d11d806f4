"""Resumable, verified downloads against a loopback HTTP server (127.0.0.1, a thread).

The server serves one file and honours ``Range`` (206 + ``Content-Range``) unless told not
to; it can also drop the connection after a number of bytes.
"""
from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest

from kdlib.cli import main
from kdlib.core.errors import ConfigError, DownloadError
from kdlib.core.profiles import PublishedFile
from kdlib.data.download import TransferInterrupted, download, md5_file
from kdlib.data.teacher_files import fetch_teachers, published_teacher_file, teacher_path

PAYLOAD = b"".join(f"{i * 0.25:.6f}\t{-i * 0.5:.6f}\t{i % 97}\t{i}\t{i + 1}\n".encode() for i in range(20_000))
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server = self.server
        server.requests.append(self.headers.get("Range"))
        if self.path.split("?")[0] != "/files/teacher.tsv":
            self.send_error(404)
            return
        start = 0
        header = self.headers.get("Range")
        if header and not server.ignore_range:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.drop_after is not None:
            body, server.drop_after = body[: server.drop_after], None  # once
        self.wfile.write(body)
        server.sent += len(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.sent, httpd.ignore_range, httpd.drop_after = [], 0, False, None
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/files/teacher.tsv?download=1"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_fresh_download_is_checked_and_atomic(server, tmp_path):
    dest = tmp_path / "t2.tsv"
    assert download(server.url, dest, md5=MD5, size=len(PAYLOAD), progress=False) == dest
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "t2.tsv.part").exists()
    assert server.requests == [None]
    # Present and intact: checked, not fetched again.
    download(server.url, dest, md5=MD5, progress=False)
    assert server.requests == [None]


def test_resume_after_a_truncated_partial_file(server, tmp_path):
    dest = tmp_path / "t2.tsv"
    (tmp_path / "t2.tsv.part").write_bytes(PAYLOAD[:12_345])
    download(server.url, dest, md5=MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    # The server thread counts what it sent after the write returns: on a busy machine the
    # client can finish first, so wait (briefly) for the count.
    deadline = time.monotonic() + 5
    while server.sent < len(PAYLOAD) - 12_345 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.requests == ["bytes=12345-"] and server.sent == len(PAYLOAD) - 12_345


def test_complete_partial_file_is_finished_without_a_body(server, tmp_path):
    (tmp_path / "t2.tsv.part").write_bytes(PAYLOAD)
    download(server.url, tmp_path / "t2.tsv", md5=MD5, progress=False)  # 416: nothing after the end
    assert (tmp_path / "t2.tsv").read_bytes() == PAYLOAD and server.sent == 0


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "t2.tsv.part").write_bytes(b"x" * 100)
    download(server.url, tmp_path / "t2.tsv", md5=MD5, progress=False)
    assert (tmp_path / "t2.tsv").read_bytes() == PAYLOAD


def test_dropped_connection_is_resumed_or_kept(server, tmp_path):
    server.drop_after = 50_000
    download(server.url, tmp_path / "a.tsv", md5=MD5, progress=False)
    assert (tmp_path / "a.tsv").read_bytes() == PAYLOAD
    assert server.requests == [None, "bytes=50000-"]
    server.drop_after = 50_000
    with pytest.raises(TransferInterrupted, match="interrupted after 50,000 of .* bytes; run again to resume"):
        download(server.url, tmp_path / "b.tsv", md5=MD5, progress=False, retries=0)
    assert (tmp_path / "b.tsv.part").stat().st_size == 50_000  # kept for the next run
    download(server.url, tmp_path / "b.tsv", md5=MD5, progress=False)
    assert (tmp_path / "b.tsv").read_bytes() == PAYLOAD


def test_wrong_md5_names_the_file_and_the_fix(server, tmp_path):
    dest = tmp_path / "t2.tsv"
    with pytest.raises(DownloadError, match=r"t2\.tsv.*md5 is [0-9a-f]{32}, expected 0{32}.*removed; run again"):
        download(server.url, dest, md5="0" * 32, progress=False, fix="run again")
    assert not dest.exists() and not (tmp_path / "t2.tsv.part").exists()
    # A damaged prefix left by an earlier run: resumed, found damaged, removed.
    (tmp_path / "t2.tsv.part").write_bytes(b"garbage!" * 100)
    with pytest.raises(DownloadError, match="download was damaged"):
        download(server.url, dest, md5=MD5, progress=False)
    download(server.url, dest, md5=MD5, progress=False)  # the next run starts clean
    assert md5_file(dest) == MD5
    # A file in place that fails its check is reported, never silently replaced.
    dest.write_bytes(PAYLOAD[:-1] + b"?")
    with pytest.raises(DownloadError, match=rf"{dest} is damaged: its md5 is .*Delete it and"):
        download(server.url, dest, md5=MD5, progress=False)
    with pytest.raises(DownloadError, match="size is 5 bytes, expected"):
        dest.write_bytes(b"short")
        download(server.url, dest, size=len(PAYLOAD), progress=False)


def test_http_errors(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url.replace("teacher.tsv", "nope.tsv"), tmp_path / "x.tsv", progress=False)


def test_fetch_teachers_and_the_cli(server, tmp_path, capsys):
    files = {"T1": PublishedFile(server.url, MD5, len(PAYLOAD)), "T2": PublishedFile(server.url, "f" * 32)}
    assert teacher_path(files["T1"], tmp_path).name == "teacher.tsv"
    with pytest.raises(DownloadError, match="not in .*fetch-teachers"):
        published_teacher_file(files, "T1", tmp_path)
    assert fetch_teachers(files, ["T1"], dest=tmp_path, progress=False) == {"T1": tmp_path / "teacher.tsv"}
    assert published_teacher_file(files, "T1", tmp_path).read_bytes() == PAYLOAD
    with pytest.raises(ConfigError, match="T3"):
        fetch_teachers(files, ["T3"], dest=tmp_path)
    profile = tmp_path / "p.yaml"
    profile.write_text(f"teacher:\n  published_files:\n    T1: {{url: '{server.url}', md5: {MD5}}}\n")
    dest = tmp_path / "cli"
    assert main(["data", "fetch-teachers", "--profile", str(profile), "--dest", str(dest), "--no-progress"]) == 0
    assert "T1:" in capsys.readouterr().out and (dest / "teacher.tsv").read_bytes() == PAYLOAD
    (dest / "teacher.tsv").write_bytes(b"damaged")
    assert main(["data", "fetch-teachers", "--profile", str(profile), "--dest", str(dest), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "teacher.tsv is damaged" in err and "kdlib data fetch-teachers" in err
