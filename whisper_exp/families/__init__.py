"""Model families: one module per family, all with the same small surface (`families.base.Family`).

The model YAML's `family:` names the module: `family: ctc` is `whisper_exp/families/ctc.py`, whose
`FAMILY` is the family. Adding a family is adding a module here (and its model YAMLs); nothing
else in the package names a family.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from whisper_exp.families.base import Family

__all__ = ["Family", "family_names", "get_family"]

# Modules of this package that are not families (helpers of one).
_NOT_FAMILIES = {"base"}


def family_names() -> list[str]:
    """The families this package provides (modules with a FAMILY)."""
    names = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_FAMILIES or info.name.startswith("_"):
            continue
        if hasattr(importlib.import_module(f"{__name__}.{info.name}"), "FAMILY"):
            names.append(info.name)
    return sorted(names)


@cache
def get_family(name: str) -> Family:
    """The family named by `model.family`; ValueError naming the key and the known families otherwise."""
    module = None
    if name.isidentifier() and name not in _NOT_FAMILIES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, Family):
        raise ValueError(f"model.family={name!r} is not one of {family_names()}")
    return family
