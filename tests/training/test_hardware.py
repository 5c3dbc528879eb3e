"""Precision and threads follow the machine: `trainer.precision=auto` per hardware case (only the capability
queries are replaced), the warning for emulated bf16, usable cores from affinity and cgroup quota."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from run_helpers import tiny_run_overrides

from whisper_exp.run import run_training
from whisper_exp.summary import read_summary
from whisper_exp.training import hardware
from whisper_exp.training.hardware import CpuInfo, configure_threads, resolve_precision

AVX2_ONLY = CpuInfo(model="AMD EPYC (test)", flags=("avx2",), usable_cores=2, native_bf16=False)
AMX = CpuInfo(model="Xeon with AMX (test)", flags=("avx2", "avx512f", "avx512_bf16", "amx_bf16"), usable_cores=2,
              native_bf16=True)


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize(("cpu", "expected"), [(AVX2_ONLY, "32-true"), (AMX, "bf16-mixed")])
def test_auto_on_cpus(cpu: CpuInfo, expected: str) -> None:
    choice = resolve_precision("auto", "auto", cpu)
    assert choice.precision == expected and not choice.warnings
    assert cpu.model in choice.reason and ("has native bf16" in choice.reason) == cpu.native_bf16


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bf16-mixed"), (False, "16-mixed")])
def test_auto_on_cuda(monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "Test GPU")
    assert resolve_precision("auto", "auto", AVX2_ONLY).precision == expected
    # accelerator=cpu keeps a CUDA machine's run on the CPU rules
    assert resolve_precision("auto", "cpu", AVX2_ONLY).precision == "32-true"


@pytest.mark.usefixtures("no_cuda")
def test_explicit_bf16_without_native_kernels_warns_with_the_slowdown() -> None:
    choice = resolve_precision("bf16-mixed", "auto", AVX2_ONLY)
    assert choice.precision == "bf16-mixed"  # honoured: the user asked for it
    assert len(choice.warnings) == 1 and "≈ 50× slower than fp32" in choice.warnings[0]
    assert "trainer.precision=auto" in choice.warnings[0]
    assert not resolve_precision("bf16-mixed", "auto", AMX).warnings
    assert not resolve_precision("32-true", "auto", AVX2_ONLY).warnings


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize(("native", "expected"), [(False, "32-true"), (True, "bf16-mixed")])
def test_a_real_run_resolves_auto_and_records_what_ran(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture, compose_config,
                                                       random_whisper_dir: Path, demo_subset: Path, native: bool,
                                                       expected: str) -> None:
    monkeypatch.setattr(hardware, "cpu_native_bf16", lambda: native)  # the capability query only
    hardware.cpu_info.cache_clear()
    try:
        cfg = compose_config(*tiny_run_overrides(random_whisper_dir, demo_subset))
        assert cfg.trainer.precision == "auto"  # the default
        with caplog.at_level(logging.INFO, logger="whisper_exp.training.hardware"):
            run_training(cfg)
    finally:
        hardware.cpu_info.cache_clear()
    summary = read_summary(Path(cfg.paths.output_dir))
    assert summary["status"] == "completed" and summary["precision"] == expected
    assert summary["environment"]["native_bf16"] is native and summary["environment"]["usable_cores"] >= 1
    assert any(f"precision {expected} (auto: CPU" in record.getMessage() for record in caplog.records)


def test_usable_cores_follow_the_affinity_mask() -> None:
    """A process pinned to one core sees one usable core, whatever os.cpu_count() says."""
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from whisper_exp.training.hardware import usable_cores; print(usable_cores(), os.cpu_count())")
    usable, counted = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     env={**os.environ}).stdout.split()
    assert int(usable) == 1 and int(counted) >= 1


@pytest.mark.parametrize(("cpu_max", "expected"), [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1)])
def test_cgroup_v2_quota(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpu_max: str, expected: int | None) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    monkeypatch.setattr(hardware, "CGROUP_V2_CPU_MAX", tmp_path / "cpu.max")
    monkeypatch.setattr(hardware, "CGROUP_V1_QUOTA", tmp_path / "absent")
    assert hardware._cgroup_quota_cores() == expected


def test_cgroup_v1_quota(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "quota").write_text("100000\n")
    (tmp_path / "period").write_text("100000\n")
    monkeypatch.setattr(hardware, "CGROUP_V2_CPU_MAX", tmp_path / "absent")
    monkeypatch.setattr(hardware, "CGROUP_V1_QUOTA", tmp_path / "quota")
    monkeypatch.setattr(hardware, "CGROUP_V1_PERIOD", tmp_path / "period")
    assert hardware._cgroup_quota_cores() == 1
    (tmp_path / "quota").write_text("-1\n")
    assert hardware._cgroup_quota_cores() is None


def test_configure_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert configure_threads(None) == hardware.cpu_info().usable_cores == torch.get_num_threads()
        with pytest.raises(ValueError, match="trainer.num_threads"):
            configure_threads(0)
    finally:
        torch.set_num_threads(before)


def test_the_bench_names_the_machine_and_refuses_emulated_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parents[2] / "experiments"
                                                  / "throughput" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(hardware, "cpu_info", lambda: AVX2_ONLY)  # the capability query only
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = argparse.Namespace(precision="bf16", peer_precision="bf16", allow_emulated_bf16=False, threads=2)
    with pytest.raises(SystemExit, match="bf16 is emulated here"):
        bench.resolve_bench_precision(args)
    args = argparse.Namespace(precision="auto", peer_precision="auto", allow_emulated_bf16=False, threads=2)
    bench.resolve_bench_precision(args)
    assert (args.precision, args.peer_precision) == ("fp32", "fp32")
    block = bench.machine_block(args)
    assert "machine: AMD EPYC (test)" in block and "avx512_bf16 no" in block and "avx2 yes" in block
    assert "native bf16 (torch/oneDNN): no" in block and "ours 32-true, peer fp32" in block
