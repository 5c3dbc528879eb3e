"""W&B comparison: prediction tables after every evaluation, headline numbers in the run summary (offline W&B)."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, WandbLogger

from whisper_exp.tracking.wandb_tables import PredictionTables, comparison_values, publish_summary


class _Scorer(L.LightningModule):
    """Fills `examples` at the end of each evaluation the way `tasks.base.ASRTask._eval_end` does."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.examples: dict[str, list[dict[str, str]]] = {}
        self.passes = 0

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        pass

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        pass

    def _examples(self, prefix: str) -> None:
        self.passes += 1
        prediction = f"pass {self.passes}"
        self.examples[prefix] = [{"id": "demo/sg_1", "reference": "take the MRT lah", "prediction": prediction}]

    def on_validation_epoch_end(self) -> None:
        self._examples("val")

    def on_test_epoch_end(self) -> None:
        self._examples("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader() -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 2)), batch_size=2)


def _trainer(logger: L.pytorch.loggers.Logger, tmp_path: Path) -> L.Trainer:
    return L.Trainer(max_steps=2, logger=logger, callbacks=[PredictionTables()], default_root_dir=str(tmp_path),
                     enable_progress_bar=False, enable_checkpointing=False, num_sanity_val_steps=0,
                     log_every_n_steps=1)


def test_tables_and_summary_reach_an_offline_wandb_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandbLogger(project="whisper_exp", save_dir=str(tmp_path), mode="offline")
    trainer, module = _trainer(logger, tmp_path), _Scorer()
    trainer.validate(module, _loader(), verbose=False)  # the zero-shot pass, step 0
    trainer.fit(module, _loader(), _loader())
    trainer.test(module, _loader(), verbose=False)
    published = publish_summary(trainer.loggers, {
        "baseline_wer": 0.455, "best_val_wer": 0.03, "wer": 0.031, "train_hours": 0.59, "train_samples": 440,
        "train_samples_per_s": 2.5, "model": "tiny.en", "cer": float("nan"), "examples": [{"id": "x"}],
        "config": {"seed": 1}})
    assert published == {"baseline_wer": 0.455, "best_val_wer": 0.03, "wer": 0.031, "train_samples": 440,
                         "train_hours": 0.59, "train_samples_per_s": 2.5, "model": "tiny.en"}
    summary = logger.experiment.summary
    assert (summary["wer"], summary["baseline_wer"], summary["train_hours"]) == (0.031, 0.455, 0.59)
    run_dir = Path(logger.experiment.dir)
    logger.experiment.finish()
    files = sorted((run_dir / "media" / "table").rglob("predictions_*.table.json"))
    assert sorted(path.parent.name for path in files) == ["test", "val", "val"]  # zero-shot, end of fit, test
    tables = [json.loads(path.read_text()) for path in files]
    assert all(table["columns"] == ["step", "id", "reference", "prediction"] for table in tables)
    rows = sorted(table["data"][0] for table in tables)
    assert rows == [[0, "demo/sg_1", "take the MRT lah", "pass 1"], [2, "demo/sg_1", "take the MRT lah", "pass 2"],
                    [2, "demo/sg_1", "take the MRT lah", "pass 3"]]


def test_other_loggers_are_left_alone(tmp_path: Path) -> None:
    logger = CSVLogger(save_dir=str(tmp_path), name="csv", version="")
    trainer, module = _trainer(logger, tmp_path), _Scorer()
    trainer.validate(module, _loader(), verbose=False)
    assert publish_summary(trainer.loggers, {"wer": 0.1}) == {"wer": 0.1}
    assert not list(tmp_path.rglob("*.table.json"))


def test_comparison_values_keep_only_finite_scalars() -> None:
    assert comparison_values({"wer": 0.1, "seed": 3, "lr": float("inf"), "tags": ["a"], "global_steps": True,
                              "data": "demo_sg"}) == {"wer": 0.1, "seed": 3, "data": "demo_sg"}
