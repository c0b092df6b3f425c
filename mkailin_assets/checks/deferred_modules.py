"""Modules imported only when first used: stand-ins for what a library imports but our use of it
never touches.

Great Expectations imports altair (charts for Data Docs) and scipy.stats (one distributional
expectation) at import time: about 1 CPU-second of the 3 that importing GX costs every run
process, for code our checks never run. `importlib.util.LazyLoader` cannot stand in for them: the
next `import` statement of the module reads its `__spec__`, which loads it."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from typing import Any


class DeferredModule(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is read; then imports the
    module, puts it in sys.modules, and forwards every read to it."""

    def __getattr__(self, attribute: str) -> Any:  # called only for attributes not set here
        real = self.__dict__.get("_deferred_module")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_deferred_module"] = real
        return getattr(real, attribute)


def defer(names: tuple[str, ...]) -> list[str]:
    """Stand-ins for the modules of `names` not imported yet; returns those deferred."""
    deferred = []
    for name in names:
        if name in sys.modules:
            continue
        stand_in = DeferredModule(name)
        stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = stand_in
        deferred.append(name)
    return deferred


def is_loaded(name: str) -> bool:
    """Whether the real module is imported (a stand-in that was never read is not)."""
    module = sys.modules.get(name)
    if isinstance(module, DeferredModule):
        return module.__dict__.get("_deferred_module") is not None
    return module is not None
