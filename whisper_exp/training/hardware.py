"""What the machine can do, asked once per run: CPU model and flags, usable cores, native bf16.

Owns two decisions that must follow the hardware rather than a config file written on another machine:

* **precision** — `trainer.precision=auto` (the default) resolves to bf16-mixed where the device has
  native bf16 (a CUDA GPU that supports it; a CPU whose oneDNN reports bf16 kernels, i.e. AVX512-BF16 or
  AMX), 16-mixed on a CUDA GPU without bf16, else 32-true. An explicit bf16/16 precision on a CPU without
  native kernels is honoured with a warning: there bf16 matmuls are emulated (measured ≈ 50× slower than
  fp32 on an AVX2-only AMD EPYC: 0.6 vs 32 GFLOP/s).
* **threads** — `trainer.num_threads=null` uses every *usable* core: the process's CPU affinity, capped by a
  cgroup CPU quota (containers, CI), not `os.cpu_count()`, which counts the host's cores (an explicit
  OMP_NUM_THREADS in the environment wins).
"""

from __future__ import annotations

import logging
import math
import os
import platform
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch

log = logging.getLogger(__name__)

AUTO = "auto"
# The CPU flags (Linux /proc/cpuinfo names) that decide which kernels torch can use.
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")
# Measured on an AVX2-only AMD EPYC (2 vCPUs): bf16 matmul 0.6 GFLOP/s vs fp32 32 GFLOP/s.
EMULATED_BF16_SLOWDOWN = 50
CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as torch will use it."""

    model: str
    flags: tuple[str, ...]
    usable_cores: int
    native_bf16: bool

    def describe(self) -> str:
        flags = " ".join(self.flags) or "none of " + "/".join(REPORTED_FLAGS)
        return (f"{self.model}; flags: {flags}; usable cores: {self.usable_cores}; "
                f"native bf16: {'yes' if self.native_bf16 else 'no'}")

    def as_dict(self) -> dict[str, object]:
        return {"cpu_model": self.model, "cpu_flags": list(self.flags), "usable_cores": self.usable_cores,
                "native_bf16": self.native_bf16}


@dataclass(frozen=True)
class PrecisionChoice:
    """The Lightning precision a run uses, what was asked for, and why."""

    precision: str
    requested: str
    reason: str
    warnings: list[str] = field(default_factory=list)


def _cpuinfo_field(name: str) -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def _cgroup_quota_cores() -> int | None:
    """Cores allowed by a cgroup CPU quota (v2 cpu.max, else v1 cfs quota/period); None = no quota."""
    try:
        quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us, period_us = int(CGROUP_V1_QUOTA.read_text()), int(CGROUP_V1_PERIOD.read_text())
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 else None


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota_cores()
    return min(cores, quota) if quota is not None else cores


def cpu_native_bf16() -> bool:
    """torch's own answer: does oneDNN have native bf16 kernels on this CPU (AVX512-BF16 / AMX)?"""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@cache
def cpu_info() -> CpuInfo:
    """Model, the flags in REPORTED_FLAGS, usable cores and native bf16 (cached: the machine does not change)."""
    flags = set(_cpuinfo_field("flags").split())
    model = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    return CpuInfo(model=model, flags=tuple(f for f in REPORTED_FLAGS if f in flags), usable_cores=usable_cores(),
                   native_bf16=cpu_native_bf16())


def _uses_cuda(accelerator: str) -> bool:
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(requested: str, accelerator: str, cpu: CpuInfo | None = None) -> PrecisionChoice:
    """`requested` (a Lightning precision or "auto") for this device; see the module docstring."""
    if _uses_cuda(accelerator):
        gpu = torch.cuda.get_device_name(0)
        bf16 = torch.cuda.is_bf16_supported()
        if requested != AUTO:
            return PrecisionChoice(requested, requested, f"set explicitly (GPU {gpu})")
        chosen = "bf16-mixed" if bf16 else "16-mixed"
        return PrecisionChoice(chosen, requested, f"auto: GPU {gpu} {'supports' if bf16 else 'lacks'} bf16")
    cpu = cpu or cpu_info()
    if requested == AUTO:
        chosen = "bf16-mixed" if cpu.native_bf16 else "32-true"
        why = "has native bf16 kernels" if cpu.native_bf16 else "has no native bf16 kernels"
        return PrecisionChoice(chosen, requested, f"auto: CPU {why} ({cpu.describe()})")
    warnings = []
    half = requested.startswith(("bf16", "16"))
    if half and not cpu.native_bf16:
        warnings.append(
            f"trainer.precision={requested} on a CPU without native bf16/fp16 kernels ({cpu.describe()}): half-"
            f"precision matmuls are emulated here, expect them ≈ {EMULATED_BF16_SLOWDOWN}× slower than fp32 "
            "(0.6 vs 32 GFLOP/s measured on an AVX2-only AMD EPYC). Use trainer.precision=auto or 32-true.")
    return PrecisionChoice(requested, requested, f"set explicitly (CPU: {cpu.describe()})", warnings)


def default_threads() -> int:
    """Threads when trainer.num_threads is null: OMP_NUM_THREADS when the environment sets it (torch already
    follows it), else every usable core."""
    return torch.get_num_threads() if os.environ.get("OMP_NUM_THREADS") else cpu_info().usable_cores


def configure_threads(requested: int | None) -> int:
    """Set torch's intra-op threads to `requested`, or to `default_threads()` when None; returns the count."""
    threads = requested if requested is not None else default_threads()
    if threads < 1:
        raise ValueError(f"trainer.num_threads must be >= 1 or null (all usable cores), got {threads}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def apply_hardware(precision: str, num_threads: int | None, accelerator: str) -> PrecisionChoice:
    """Resolve the precision and set the thread count for this run; logs the choice and its reason."""
    choice = resolve_precision(precision, accelerator)
    threads = configure_threads(num_threads)
    log.info("precision %s (%s); torch threads %d", choice.precision, choice.reason, threads)
    for warning in choice.warnings:
        log.warning(warning)
    return choice
