"""Packages that load on first use. The app assembly imports every deployment class to bind
it (serve_app/app.py), on the gateway too; with OpenCV loaded only when a replica first calls
it, a gateway-only install (`pip install photoserve`, no `models` extra) can build the app."""

from __future__ import annotations

import importlib
from types import ModuleType


class Lazy(ModuleType):
    """Stands in for the module of its name until an attribute is first asked for."""

    def __getattr__(self, attribute: str):
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)  # later lookups skip this method
        return getattr(module, attribute)


cv2 = Lazy("cv2")
