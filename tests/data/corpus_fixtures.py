"""Builders of small corpora shaped exactly like the real ones (columns, feature types, layouts).

* `write_cv11_like`: the Hub's parquet export of Common Voice 11 (``el/{split}/0000.parquet``):
  client_id, path, audio (`Audio` feature: 48 kHz mp3 bytes + path), sentence, up_votes,
  down_votes, age, gender, accent, locale, segment.
* `write_fleurs_like`: a `save_to_disk` DatasetDict (``el_gr/``) as left by decoding FLEURS:
  id, num_samples, path, audio as a plain struct of float64 arrays + sampling_rate + path,
  transcription, raw_transcription, gender, lang_id, language, lang_group_id.
* `write_librispeech_like`: a copy of openslr/librispeech_asr (``clean/train.100/0000.parquet``,
  ``other/test/…``): file, audio (`Audio`: flac bytes), text (upper case), speaker_id, chapter_id, id.
* `write_imda_like`: IMDA NSC ``PART1/DATA/CHANNEL0/{SCRIPT,WAVE}`` with per-speaker zips and
  unzipped speaker folders, SCRIPT files with prompt + annotated transcription lines.

Audio is tones with a little noise (a different pitch per clip): the loaders, not the words, are
under test. Parquet files are written from plain struct columns cast to `Audio` (no encoding, so
no torchcodec).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import Audio, ClassLabel, Dataset, DatasetDict, Features, Value

GREEK = ["Καλημέρα σας.", "Τι κάνεις σήμερα;", "Η Αθήνα είναι όμορφη.", "Θέλω ένα καφέ, παρακαλώ.",
         "Πού είναι ο σταθμός;", "Ευχαριστώ πολύ!", "Το τρένο αργεί.", "Καλό ταξίδι."]
ENGLISH = ["HE HOPED THERE WOULD BE STEW FOR DINNER", "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM",
           "AFTER EARLY NIGHTFALL THE YELLOW LAMPS WOULD LIGHT UP", "HELLO BERTIE ANY GOOD IN YOUR MIND",
           "NUMBER TEN FRESH NELLY IS WAITING ON YOU", "THE CHAOS IN WHICH HIS ARDOUR EXTINGUISHED ITSELF"]


def tone(seconds: float, sample_rate: int, frequency: float, seed: int = 0) -> np.ndarray:
    """A tone with a little noise, float64 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    noise = np.random.default_rng(seed).standard_normal(t.shape)
    return 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * noise


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode samples as WAV/FLAC/MP3 bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), sample_rate, format=fmt)
    return buffer.getvalue()


def _audio_struct() -> dict:
    return {"bytes": Value("binary"), "path": Value("string")}


def write_cv11_like(root: Path, counts: dict[str, int] | None = None, start: int = 0) -> Path:
    """Common Voice 11 Greek, parquet export layout; `counts` clips per split."""
    counts = counts or {"train": 6, "validation": 3, "test": 3}
    features = Features({
        "client_id": Value("string"), "path": Value("string"), "audio": _audio_struct(),
        "sentence": Value("string"), "up_votes": Value("int64"), "down_votes": Value("int64"),
        "age": Value("string"), "gender": Value("string"), "accent": Value("string"), "locale": Value("string"),
        "segment": Value("string")})
    clip = start
    for split, count in counts.items():
        rows: dict[str, list] = {name: [] for name in features}
        for _ in range(count):
            name = f"common_voice_el_{30000 + clip}.mp3"
            rows["client_id"].append(f"speaker{clip % 4:02d}" + "f" * 20)
            rows["path"].append(name)
            rows["audio"].append({"bytes": encode(tone(0.6 + 0.1 * (clip % 5), 48_000, 220 + 30 * clip, clip),
                                                  48_000, "MP3"), "path": name})
            rows["sentence"].append(GREEK[clip % len(GREEK)])
            rows["up_votes"].append(2)
            rows["down_votes"].append(0)
            rows["age"].append(["", "twenties", "thirties"][clip % 3])
            rows["gender"].append(["", "male", "female"][clip % 3])
            rows["accent"].append("")
            rows["locale"].append("el")
            rows["segment"].append("")
            clip += 1
        table = Dataset.from_dict(rows, features=features).cast_column("audio", Audio(sampling_rate=48_000))
        (root / "el" / split).mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(root / "el" / split / "0000.parquet"))
    return root


def write_fleurs_like(root: Path, counts: dict[str, int] | None = None) -> Path:
    """FLEURS Greek as a saved DatasetDict whose audio holds decoded float64 arrays."""
    counts = counts or {"train": 5, "validation": 3, "test": 3}
    features = Features({
        "id": Value("int32"), "num_samples": Value("int32"), "path": Value("string"),
        "audio": {"array": [Value("float64")], "path": Value("string"), "sampling_rate": Value("int64")},
        "transcription": Value("string"), "raw_transcription": Value("string"),
        "gender": ClassLabel(names=["male", "female", "other"]), "lang_id": Value("int32"),
        "language": Value("string"), "lang_group_id": Value("int32")})
    splits = {}
    clip = 0
    for split, count in counts.items():
        rows: dict[str, list] = {name: [] for name in features}
        for _ in range(count):
            samples = tone(0.5 + 0.15 * (clip % 4), 16_000, 500 + 40 * clip, 100 + clip)
            name = f"{1000 + clip}.wav"
            raw = GREEK[(clip + 3) % len(GREEK)]
            rows["id"].append(1500 + clip // 2)  # sentence ids repeat: several speakers read each sentence
            rows["num_samples"].append(len(samples))
            rows["path"].append(name)
            rows["audio"].append({"array": samples.tolist(), "path": name, "sampling_rate": 16_000})
            rows["transcription"].append(raw.lower().strip(".;!,"))
            rows["raw_transcription"].append(raw)
            rows["gender"].append(clip % 2)
            rows["lang_id"].append(29)
            rows["language"].append("Greek")
            rows["lang_group_id"].append(0)
            clip += 1
        splits[split] = Dataset.from_dict(rows, features=features)
    DatasetDict(splits).save_to_disk(str(root / "el_gr"))
    return root


def write_librispeech_like(root: Path) -> Path:
    """openslr/librispeech_asr layout: clean/{train.100,validation,test}, other/{validation,test}."""
    features = Features({"file": Value("string"), "audio": _audio_struct(), "text": Value("string"),
                         "speaker_id": Value("int64"), "chapter_id": Value("int64"), "id": Value("string")})
    layout = {("clean", "train.100"): 4, ("clean", "validation"): 2, ("clean", "test"): 2,
              ("other", "validation"): 2, ("other", "test"): 2}
    clip = 0
    for (config, split), count in layout.items():
        rows: dict[str, list] = {name: [] for name in features}
        for _ in range(count):
            speaker, chapter = 100 + clip % 3, 2000 + clip
            uid = f"{speaker}-{chapter}-{clip:04d}"
            rows["file"].append(f"{uid}.flac")
            rows["audio"].append({"bytes": encode(tone(0.7, 16_000, 300 + 25 * clip, 200 + clip), 16_000, "FLAC"),
                                  "path": f"{uid}.flac"})
            rows["text"].append(ENGLISH[clip % len(ENGLISH)])
            rows["speaker_id"].append(speaker)
            rows["chapter_id"].append(chapter)
            rows["id"].append(uid)
            clip += 1
        table = Dataset.from_dict(rows, features=features).cast_column("audio", Audio(sampling_rate=16_000))
        (root / config / split).mkdir(parents=True, exist_ok=True)
        table.to_parquet(str(root / config / split / "0000.parquet"))
    return root


# (prompt, transcription) pairs in NSC conventions; the cleaned text each should give is in the tests.
IMDA_LINES = [
    ("Chinese New Year is celebrated for fifteen days.", "chinese new year is celebrated for fifteen days"),
    ("The hawker centre near my flat sells chicken rice.", "the hawker centre near my flat (uh) sells chicken rice"),
    ("We took the MRT to Jurong East.", "we took the m_r_t to jurong east [lah]"),
    ("Please bring your umbrella.", "please bring <UNK> umbrella"),
    ("Let us meet at the void deck.", "(ppl) let us meet at the void deck <FIL/>"),
    ("The kopi here is very good.", "the !wah! kopi here is very go~ good"),
]


def write_imda_like(root: Path, speakers: int = 6, zipped: tuple[int, ...] = (0, 2, 4)) -> Path:
    """IMDA NSC Part 1, channel 0: one session per speaker, len(IMDA_LINES) utterances each.

    Speakers whose index is in `zipped` ship as WAVE/SPEAKERxxxx.zip, the others as unzipped folders.
    """
    channel = root / "PART1" / "DATA" / "CHANNEL0"
    (channel / "SCRIPT").mkdir(parents=True, exist_ok=True)
    (channel / "WAVE").mkdir(parents=True, exist_ok=True)
    for index in range(speakers):
        speaker, session = f"{index + 1:04d}", "0"
        lines = []
        members = {}
        for number, (prompt, transcription) in enumerate(IMDA_LINES, start=1):
            uid = f"0{speaker}{session}{number:03d}"
            lines += [f"{uid}\t{prompt}", f"\t{transcription}"]
            wav = encode(tone(0.5 + 0.05 * number, 16_000, 250 + 20 * number + 7 * index, index * 10 + number),
                         16_000, "WAV")
            members[f"SPEAKER{speaker}/SESSION{session}/{uid}.WAV"] = wav
        (channel / "SCRIPT" / f"0{speaker}{session}.TXT").write_bytes(
            ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
        if index in zipped:
            with zipfile.ZipFile(channel / "WAVE" / f"SPEAKER{speaker}.zip", "w") as archive:
                for member, data in members.items():
                    archive.writestr(member, data)
        else:
            for member, data in members.items():
                target = channel / "WAVE" / member
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    return root
