from __future__ import annotations

import pytest

from deployments.common import weights
from serve_app.core.catalog import Catalog, ModelSpec
from serve_app.core.settings import CONFIGS


def spec_with(source_overrides: dict) -> ModelSpec:
    catalog = Catalog.load(CONFIGS / "models.yaml", None, CONFIGS)
    base = catalog.specs["realesr-animevideov3"]
    source = {**base.sources[0], **source_overrides}
    return ModelSpec(
        base.name, base.operation, base.arch, base.file, base.alias, base.scale, (source,)
    )


def test_import_converts_then_reports_present(tmp_path):
    spec = spec_with({})
    assert weights.import_model(spec, tmp_path).status == "imported"
    assert (tmp_path / "realesr-animevideov3.safetensors").stat().st_size > 1_000_000
    assert weights.import_model(spec, tmp_path).status == "present"


def test_checksum_mismatch_is_refused_and_writes_nothing(tmp_path):
    spec = spec_with({"sha256": "0" * 64})
    result = weights.import_model(spec, tmp_path)
    assert result.status == "failed"
    assert "sha256" in result.detail
    assert not list(tmp_path.iterdir())


def test_model_without_bundled_source_needs_fetch(tmp_path):
    spec = ModelSpec("gfpgan", "restore-face", "GFPGAN", "gfpgan.pth")
    assert weights.import_model(spec, tmp_path).status == "no-source"


def test_missing_package_is_reported(tmp_path):
    result = weights.import_model(spec_with({"package": "no_such_package_here"}), tmp_path)
    assert result.status == "failed"


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert weights.sha256_file(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_loading_missing_weights_raises_weights_missing(tmp_path):
    from deployments.common.device import plan
    from deployments.upscale import networks

    with pytest.raises(networks.WeightsMissing):
        networks.load(spec_with({}), tmp_path, plan(1, 0, False), "torch")


@pytest.fixture(scope="module")
def file_server(tmp_path_factory):
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path_factory.mktemp("release")
    (root / "weights.pth").write_bytes(b"official weights" * 1000)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


def url_spec(url: str, sha256, size=None) -> ModelSpec:
    source = {"kind": "url", "url": url, "sha256": sha256, "size": size}
    return ModelSpec("gfpgan-v1.4", "restore-face", "GFPGAN", "GFPGANv1.4.pth", sources=(source,))


def test_fetch_verifies_the_checksum(file_server, tmp_path):
    base, root = file_server
    good = weights.sha256_file(root / "weights.pth")
    assert (
        weights.fetch_model(url_spec(f"{base}/weights.pth", good, 16000), tmp_path).status
        == "fetched"
    )
    assert (tmp_path / "GFPGANv1.4.pth").read_bytes() == (root / "weights.pth").read_bytes()
    assert weights.fetch_model(url_spec(f"{base}/weights.pth", good), tmp_path).status == "present"


@pytest.mark.parametrize(("sha", "size"), [("0" * 64, None), (None, 5)])
def test_fetch_refuses_a_wrong_file_and_keeps_nothing(file_server, tmp_path, sha, size):
    base, _ = file_server
    result = weights.fetch_model(url_spec(f"{base}/weights.pth", sha, size), tmp_path)
    assert result.status == "failed"
    assert not list(tmp_path.iterdir())


def test_fetch_failures_are_reported(tmp_path):
    result = weights.fetch_model(url_spec("http://127.0.0.1:9/nothing.pth", None), tmp_path)
    assert result.status == "failed" and "ConnectError" in result.detail


def test_fetch_without_checksum_is_marked_unverified(file_server, tmp_path):
    base, _ = file_server
    result = weights.fetch_model(url_spec(f"{base}/weights.pth", None), tmp_path)
    assert result.status == "fetched" and "unverified" in result.detail


def test_wheel_files_are_copied_after_a_checksum(tmp_path):
    catalog = Catalog.load(CONFIGS / "models.yaml", None, tmp_path)
    result = weights.import_model(catalog.specs["dlib-face-landmarks-68"], tmp_path)
    assert result.status == "imported"
    assert (tmp_path / "shape_predictor_68_face_landmarks.dat").stat().st_size > 90_000_000


def test_every_editing_model_has_an_official_checked_source():
    catalog = Catalog.load(CONFIGS / "models.yaml", None, CONFIGS)
    for name in ("u2net", "sam-vit-b", "big-lama", "sd-inpainting"):
        source = catalog.specs[name].sources[0]
        if source["kind"] == "url":
            assert source["url"].startswith("https://") and len(source["sha256"]) == 64
            assert source["size"] > 1_000_000
        else:
            assert source["kind"] == "hf-snapshot" and len(source["revision"]) == 40
            assert all(len(digest) == 64 for digest in source["sha256"].values())


def test_a_snapshot_that_cannot_be_fetched_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = Catalog.load(CONFIGS / "models.yaml", None, tmp_path).specs["sd-inpainting"]
    result = weights.fetch_model(spec, tmp_path)
    assert result.status == "failed"
    assert list(tmp_path.iterdir()) == []
