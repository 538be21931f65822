from __future__ import annotations

import pytest

from serve_app.core.scripts import NAMES, source


@pytest.mark.parametrize("name", NAMES)
async def test_every_script_compiles(rt, name):
    digest = await rt.redis.script_load(source(name))
    assert len(digest) == 40
