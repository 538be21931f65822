"""A lazy module imports its package on the first attribute asked for, and is then that
package's namespace."""

from __future__ import annotations

import subprocess
import sys


def test_the_package_loads_on_first_use_only():
    code = (
        "import sys\n"
        "from deployments.common.lazy import Lazy\n"
        "colorsys = Lazy('colorsys')\n"
        "before = 'colorsys' in sys.modules\n"
        "value = colorsys.rgb_to_hsv(1.0, 0.0, 0.0)\n"
        "print(before, 'colorsys' in sys.modules, value, 'rgb_to_hsv' in vars(colorsys))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "(0.0,", "1.0,", "1.0)", "True"]
