from __future__ import annotations

import pytest

from deployments import weights
from serve_app.catalog import Catalog, ModelSpec
from serve_app.settings import CONFIGS


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
    from deployments import networks
    from deployments.device import plan

    with pytest.raises(networks.WeightsMissing):
        networks.load(spec_with({}), tmp_path, plan(1, 0, False), "torch")
