"""Style catalogs are checked when they load: a missing file, a repeated id, a style without
a prompt or with a strength out of range fails with the file and the style named."""

from __future__ import annotations

import pytest

from loadtest.photos import encode, photo
from serve_app.core.settings import CONFIGS
from serve_app.core.styles import StyleCatalogError, Styles

GOOD = """
groups:
  - id: 1
    title: One
    styles:
      - {id: 11, title: A, prompt: "{prompt}, in ink", thumb: a.png, reference: ref/b.jpg}
      - {id: 12, prompt: "short hair", strength: 0.5}
"""


def catalog(tmp_path, text: str, files=("a.png", "ref/b.jpg")) -> Styles:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(encode(photo("coffee", 32)))
    (tmp_path / "text-to-image.yaml").write_text(text)
    return Styles.load(tmp_path)


def test_a_catalog_loads_with_its_files(tmp_path):
    styles = catalog(tmp_path, GOOD)
    style = styles.find("text-to-image", 1, 11)
    assert style.thumb == (tmp_path / "a.png").resolve() and style.reference.is_file()
    assert style.prompt_for("a fox") == "a fox, in ink"
    assert styles.find("text-to-image", 1, 12).title == "12" and styles.find("x", 1, 11) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("thumb: a.png", "thumb: missing.png"), "'missing.png' is not a file"),
        (("thumb: a.png", "thumb: ../../etc/passwd"), "is not a file beside the catalog"),
        (("id: 12,", "id: 11,"), "ids used twice: \\[11\\]"),
        (("id: 12,", "id: 1,"), "ids used twice"),
        (('prompt: "short hair", ', ""), "prompt is required"),
        (("strength: 0.5", "strength: 2"), "strength must be"),
        (("id: 12,", "id: -3,"), "id must be"),
        (("- id: 1\n", "- id: 1.5\n"), "id must be"),
        (("title: One\n", "title: [One\n"), "not valid YAML at line 5"),
        (("\n  - id: 1\n", "\n  - 1\n  - id: 1\n"), "`groups` must be a list of groups"),
        (("- {id: 11,", "- 3\n      - {id: 11,"), "group 1: `styles` must be a list"),
    ],
)
def test_a_bad_catalog_fails_naming_the_file_and_style(tmp_path, change, reason):
    with pytest.raises(StyleCatalogError, match=reason) as failure:
        catalog(tmp_path, GOOD.replace(*change))
    assert "text-to-image.yaml" in str(failure.value)


def test_the_shipped_catalogs_load():
    shipped = Styles.load(CONFIGS / "styles")
    assert {"text-to-image", "hair-style"} <= set(shipped.tasks)
    assert all(s.prompt for groups in shipped.tasks.values() for g in groups for s in g.styles)
