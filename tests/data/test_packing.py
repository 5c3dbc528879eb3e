"""30-second packing: windows respect the frame and label budgets, keep audio and label order, cover
every utterance once; a packed run counts utterances, not windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import WhisperProcessor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ConfigError, DataConfig, PackingConfig, SourceConfig, validate_config
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.features import FeatureStore, LogMelSettings, pad_features
from whisper_exp.data.packing import PackedSplit, joined_text, plan_windows
from whisper_exp.data.pipeline import build_split
from whisper_exp.families.whisper_labels import WhisperLabeller
from whisper_exp.run import run_training


def _word_labeller(text: str) -> list[int]:
    return [7, *range(len(text.split())), 9]  # prompt, one id per word, end


def test_plan_keeps_order_and_budgets() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(150, 900, size=40).tolist()
    texts = [" ".join(["w"] * int(n)) for n in rng.integers(1, 30, size=40)]
    order = rng.permutation(40).tolist()
    windows = plan_windows(frames, texts, order, _word_labeller, max_frames=3000, gap_frames=20,
                           max_label_tokens=60)
    assert [i for w in windows for i in w.members] == order  # every utterance once, in the planned order
    for window in windows:
        assert window.frames == sum(frames[i] for i in window.members) + 20 * (len(window.members) - 1)
        assert window.frames <= 3000 and len(window.labels) <= 60
        assert list(window.labels) == _word_labeller(joined_text([texts[i] for i in window.members]))
    assert len(windows) < 40 / 2  # short clips do share windows


def test_an_utterance_over_budget_stays_alone() -> None:
    windows = plan_windows([100, 2900, 100], ["a", "b", "c"], [0, 1, 2], _word_labeller, max_frames=2950,
                           gap_frames=10, max_label_tokens=448)
    assert [w.members for w in windows] == [(0,), (1,), (2,)]


@pytest.fixture(scope="module")
def demo_train(demo_subset: Path, tiny_en_processor: WhisperProcessor, tmp_path_factory: pytest.TempPathFactory):
    extractor = tiny_en_processor.feature_extractor
    labeller = WhisperLabeller(tiny_en_processor.tokenizer, english_only=True, language=None, task=None)
    store = FeatureStore(tmp_path_factory.mktemp("features"), LogMelSettings.from_extractor(extractor))
    data = typed_defaults(DataConfig, name="demo", sources={"demo": typed_defaults(SourceConfig, kind="local",
                                                                                   path=str(demo_subset))})
    split = build_split(data, "train", extractor=extractor, labeller=labeller, max_label_tokens=448, store=store,
                        seed=0, drops=DropCounter())
    return split, labeller


def test_packed_windows_hold_the_clips_in_order_with_matching_labels(demo_train, tiny_en_processor) -> None:
    split, labeller = demo_train
    fps = LogMelSettings.from_extractor(tiny_en_processor.feature_extractor).frames_per_second
    assert fps == 100  # Whisper: hop 160 samples at 16 kHz
    packed = PackedSplit(split, labeller, typed_defaults(PackingConfig, enabled=True, max_seconds=12.0,
                                                         gap_seconds=0.2),
                         max_label_tokens=448, seed=1, frames_per_second=fps)
    assert 1 < len(packed) < len(split)
    seen: list[str] = []
    for index in range(len(packed)):
        item, window = packed[index], packed.windows[index]
        assert len(item["features"]) == window.frames <= 12 * fps
        # Audio order: each member's own frames sit at its offset, separated by the gap.
        offset = 0
        for member in window.members:
            own = split.features(member)
            np.testing.assert_array_equal(item["features"][offset: offset + len(own)], own)
            offset += len(own) + 20
        # Label order: the labels decode to the members' transcripts, joined in the same order.
        decoded = tiny_en_processor.tokenizer.decode(item["labels"], skip_special_tokens=True)
        assert decoded.strip() == joined_text([split.texts[m] for m in window.members])
        assert item["labels"][-1] == tiny_en_processor.tokenizer.eos_token_id
        assert item["n_utterances"] == len(window.members)
        assert item["duration"] == pytest.approx(sum(split.durations[m] for m in window.members))
        assert pad_features(item["features"], 3000).shape == (80, 3000)
        seen += [split.ids[m] for m in window.members]
    assert sorted(seen) == sorted(split.ids)


def test_packing_settings_are_checked(compose_config) -> None:
    with pytest.raises(ConfigError, match="data.packing.max_seconds"):
        validate_config(compose_config("data.packing.enabled=true", "data.packing.max_seconds=45"))
    with pytest.raises(ConfigError, match="streaming"):
        validate_config(compose_config("data.packing.enabled=true", "data.streaming=true"))


def test_packed_run_counts_utterances(compose_config, random_whisper_dir: Path, demo_subset: Path) -> None:
    cfg = compose_config(f"model.checkpoint={random_whisper_dir}", "data=local", f"data.path={demo_subset}",
                         "data.packing.enabled=true", "logger=none", "trainer.max_epochs=1", "trainer.max_steps=-1",
                         "trainer.baseline_eval=false", "trainer.enable_progress_bar=false", "export.enabled=false",
                         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "data.batch_size=2",
                         "data.eval_batch_size=4", "generation.max_new_tokens=4")
    run_training(cfg)
    summary = json.loads((Path(cfg.paths.output_dir) / "summary.json").read_text())
    # 8 short demo clips fit in 2 windows of 30 s: one step of batch 2, yet 8 utterances trained on.
    assert summary["global_steps"] == 1
    assert summary["train_samples_seen"] == 8
    assert summary["train_audio_seconds"] == pytest.approx(summary["train_hours"] * 3600, rel=1e-6)
