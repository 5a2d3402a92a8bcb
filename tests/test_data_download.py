"""Downloads without network: only the HTTP transfer inside pooch is replaced (pooch still
checks the md5 and moves the file into place); the rest of the path is the real one."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from test_data_frey import frey_frames, frey_mat_bytes

import scratchvae as sv
from scratchvae.data import DataError

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"


class FakeServer:
    """Stands in for the network: serves bytes by URL, records every request."""

    def __init__(self, files):
        self.files = files  # url or basename -> bytes, or an exception to raise
        self.requests = []

    def __call__(self, downloader, url, output_file, pooch, check_only=False):
        import requests

        self.requests.append(url)
        body = self.files.get(url, self.files.get(url.rsplit("/", 1)[-1]))
        if body is None:
            raise requests.exceptions.HTTPError(f"404 Client Error: Not Found for url: {url}")
        if isinstance(body, Exception):
            raise body
        with open(output_file, "wb") as f:
            f.write(body)


@pytest.fixture
def serve(monkeypatch):
    import pooch

    def install(files):
        server = FakeServer(files)
        monkeypatch.setattr(pooch.HTTPDownloader, "__call__",
                            lambda self, *args, **kwargs: server(self, *args, **kwargs))
        return server

    return install


@pytest.fixture
def mnist_bytes(shared_data):
    return {name: (shared_data / "mnist" / name).read_bytes() for name in (IMAGES, LABELS)}


def test_missing_files_are_downloaded_verified_and_then_used_offline(tmp_path, serve,
                                                                       mnist_bytes):
    server = serve(mnist_bytes)
    x, y = sv.data.load("mnist", split="test", root=tmp_path)
    assert x.shape == (10000, 784) and y[:5].tolist() == [7, 2, 1, 0, 4]
    for name in (IMAGES, LABELS):  # original names, in <root>/mnist/
        assert (tmp_path / "mnist" / name).read_bytes() == mnist_bytes[name]
    assert len(server.requests) == 2
    assert all(url.startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
               for url in server.requests)
    sv.data.load("mnist", split="test", root=tmp_path)
    sv.data.load("mnist10k", split="train", root=tmp_path)
    assert len(server.requests) == 2  # present files are used without the network


def test_the_next_mirror_is_tried_when_one_fails(tmp_path, serve, mnist_bytes):
    import requests

    first = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    files = dict(mnist_bytes)
    files[first + LABELS] = requests.exceptions.ConnectionError("unreachable")
    server = serve(files)
    sv.data.fetch_file("mnist", LABELS, root=tmp_path)
    assert server.requests == [first + LABELS, "http://yann.lecun.com/exdb/mnist/" + LABELS]


def test_a_download_with_the_wrong_md5_is_an_error_and_leaves_no_file(tmp_path, serve,
                                                                       mnist_bytes):
    serve({LABELS: mnist_bytes[LABELS][:-1]})  # every mirror serves a damaged copy
    with pytest.raises(DataError) as info:
        sv.data.fetch_file("mnist", LABELS, root=tmp_path)
    message = str(info.value)
    assert LABELS in message and "ec29112dd5afa0611ce80d1b7f02629c" in message
    assert "does not match the known hash" in message  # pooch's own md5 check
    assert str(tmp_path / "mnist") in message
    assert not (tmp_path / "mnist").exists()  # the folder the failed download made is gone too


def test_offline_download_failure_says_which_file_checksum_and_folder(tmp_path, serve):
    import requests

    server = serve({IMAGES: requests.exceptions.ConnectionError("Name or service not known")})
    with pytest.raises(DataError) as info:
        sv.data.load("fashion-mnist", split="test", root=tmp_path)
    message = str(info.value)
    assert IMAGES in message and "Name or service not known" in message
    assert "md5 bef4ecab320f06d8554ea6380940ec79" in message
    assert str(tmp_path / "fashion-mnist") + os.sep in message
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com" in message
    assert len(server.requests) == 1


def test_download_false_never_touches_the_network(tmp_path, serve):
    server = serve({})
    with pytest.raises(DataError, match="download=False"):
        sv.data.load("kmnist", split="train", root=tmp_path, download=False)
    assert server.requests == []


def test_frey_download_checks_structure_and_records_sha256(tmp_path, serve):
    body = frey_mat_bytes(frey_frames())
    server = serve({"frey_rawface.mat": body})
    x, y = sv.data.load("frey-face", split="all", root=tmp_path)
    assert x.shape == (1965, 560) and y is None
    assert server.requests == ["https://cs.nyu.edu/~roweis/data/frey_rawface.mat"]
    path = tmp_path / "frey-face" / "frey_rawface.mat"
    record = json.loads((path.parent / "checksums.json").read_text())
    assert record["frey_rawface.mat"]["sha256"] == sv.data.file_sha256(path)
    status = sv.data.file_status("frey-face", root=tmp_path)
    assert [s.state for s in status] == ["verified"]


def test_a_downloaded_frey_file_with_the_wrong_structure_is_deleted(tmp_path, serve):
    serve({"frey_rawface.mat": b"<html>moved</html>" * 20})
    with pytest.raises(DataError, match="not the expected data and was deleted"):
        sv.data.load("frey-face", split="all", root=tmp_path)
    assert not (tmp_path / "frey-face" / "frey_rawface.mat").exists()
    assert not (tmp_path / "frey-face" / "checksums.json").exists()


def test_data_directory_is_root_then_env_then_the_user_cache(tmp_path, monkeypatch):
    import pooch

    monkeypatch.delenv("SCRATCHVAE_DATA", raising=False)
    assert sv.data.data_dir() == pooch.os_cache("scratchvae")
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path / "env"))
    assert sv.data.data_dir() == tmp_path / "env"
    assert sv.data.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert sv.data.dataset_dir("mnist10k") == tmp_path / "env" / "mnist"
    assert sv.data.dataset_dir("sprites") is None


def test_env_variable_is_used_by_load(shared_data, monkeypatch):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(shared_data))
    x, _ = sv.data.load("mnist10k", split="test", download=False)
    assert x.shape == (2000, 784)


def test_file_status_reports_verified_missing_and_corrupt(tmp_path, shared_data):
    status = {s.file: s.state for s in sv.data.file_status("mnist", root=shared_data)}
    assert status == {"train-images-idx3-ubyte.gz": "missing",
                      "train-labels-idx1-ubyte.gz": "missing",
                      IMAGES: "verified", LABELS: "verified"}
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / LABELS).write_bytes(b"junk")
    (corrupt,) = [s for s in sv.data.file_status("mnist", root=tmp_path) if s.file == LABELS]
    assert corrupt.state == "corrupt" and "expected ec29112dd5afa0611ce80d1b7f02629c" in corrupt.detail


def test_importing_the_package_does_no_network_or_pooch_work():
    code = ("import sys, scratchvae as sv; sv.data; sv.data.sprites(2); "
            "print('pooch' in sys.modules, 'requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_loaded_arrays_are_fresh_copies(shared_data):
    a, _ = sv.data.load("mnist10k", split="test", root=shared_data)
    a[:] = 0
    b, _ = sv.data.load("mnist10k", split="test", root=shared_data)
    assert np.count_nonzero(b) > 0
