from __future__ import annotations

import pytest

from serve_app.core.catalog import Catalog, CatalogError
from serve_app.core.settings import CONFIGS
from tests.helpers.config_files import refusal


def test_shipped_catalog_has_the_three_upscalers(tmp_path):
    catalog = Catalog.load(CONFIGS / "models.yaml", None, tmp_path)
    assert {s.alias for s in catalog.for_operation("upscale")} == {"fast", "quality", "anime"}
    assert catalog.find("upscale", "fast").arch == "SRVGGNetCompact"
    assert catalog.find("restore-face", "fast") is None


def test_availability_follows_the_weights_file(tmp_path):
    catalog = Catalog.load(CONFIGS / "models.yaml", None, tmp_path)
    spec = catalog.find("upscale", "quality")
    assert not catalog.available(spec)
    (tmp_path / spec.file).write_bytes(b"weights")
    assert catalog.available(spec)


def test_user_file_overrides_and_extends(tmp_path):
    custom = tmp_path / "weights.bin"
    custom.write_bytes(b"x")
    user = tmp_path / "models.yaml"
    user.write_text(
        f"""
models:
  realesrgan-x4plus:
    file: {custom}
    sources: [{{kind: url, url: "https://example.com/w.pth", sha256: null}}]
  my-upscaler:
    operation: upscale
    alias: mine
    arch: RRDBNet
    file: mine.pth
"""
    )
    catalog = Catalog.load(CONFIGS / "models.yaml", user, tmp_path / "empty")
    quality = catalog.find("upscale", "quality")
    assert quality.arch == "RRDBNet" and catalog.available(quality)  # absolute path honoured
    assert quality.sources[0]["sha256"] is None
    assert catalog.find("upscale", "mine").name == "my-upscaler"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("models:\n  u2net:\n    work_mb: lots\n", "model u2net: work_mb must be a whole number"),
        ("models:\n  u2net: 3\n", "model u2net: expected its settings"),
        ("models:\n  mine:\n    arch: RRDBNet\n", "model mine: operation, file missing"),
        ("models:\n  - u2net\n", "mine.yaml: `models` must map model names"),
        ("- models\n", "mine.yaml: expected `models:`"),
        ("models: {u2net: [\n", "mine.yaml: not valid YAML at line 2"),
    ],
)
def test_a_bad_user_file_is_refused_saying_where(tmp_path, text, said):
    def load(user):
        return Catalog.load(CONFIGS / "models.yaml", user, tmp_path)

    assert said in refusal(load, tmp_path / "mine.yaml", text, CatalogError)
