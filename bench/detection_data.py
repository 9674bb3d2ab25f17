"""The labelled development datasets for detection, scored in-process with any settings.

Shared by ``bench/nab_cv.py`` (cross-validation) and exploratory runs. A dataset is a
NAB-layout directory (``data/<category>/<name>.csv`` plus ``combined_windows.json``). Its
categories are the sub-directories; a dataset with a single sub-directory (the ops set:
``msCloudMonitoring``) is split by the file name's prefix before the first ``_``, which
names the kind of metric (``data-ingress-rate``, ``mongodb-application-rps`` ...).
"""

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alertflow.dataflows.detect import _timestamps
from alertflow.operators.anomaly.factory import detector_factory
from alertflow.schemas.config import DetectorSettings

from bench.nab import DataFile, load_corpus
from bench.nab_scoring import (
    CostProfile,
    LabelledSeries,
    normalised_score,
    null_score,
    perfect_score,
    score_file,
    threshold_curve,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = {"nab": SHARED / "nab", "ops": SHARED / "ops"}


@dataclass(frozen=True)
class Dataset:
    """One labelled dataset: its files and each file's category."""

    name: str
    files: tuple[DataFile, ...]
    categories: tuple[str, ...]
    stamps_ns: tuple[np.ndarray, ...]

    @property
    def series(self) -> list[LabelledSeries]:
        return [f.series for f in self.files]


def load_dataset(name: str, root: Path) -> Dataset:
    """Load ``root/data`` with ``root/combined_windows.json``; exit with a message if absent."""
    data, labels = root / "data", root / "combined_windows.json"
    if not data.is_dir():
        raise SystemExit(f"{data}: dataset {name!r} not found (expected a NAB-layout folder)")
    files = tuple(load_corpus(data, labels))
    folders = {f.series.name.split("/")[0] for f in files}
    split_by_prefix = len(folders) == 1
    categories = tuple(
        (Path(f.series.name).stem.split("_")[0] if split_by_prefix
         else f.series.name.split("/")[0])
        for f in files
    )
    stamps = []
    for f in files:
        with f.path.open() as handle:
            rows = [line.split(",", 1)[0] for line in handle.read().splitlines()[1:]]
        stamps.append(_timestamps(rows))
    return Dataset(name, files, categories, tuple(stamps))


def load_all(names: Sequence[str] = tuple(DATASETS)) -> list[Dataset]:
    return [load_dataset(n, DATASETS[n]) for n in names]


def detect(dataset: Dataset, overrides: Mapping[str, float] | None = None) -> list[np.ndarray]:
    """Scores of every file by the product's detector with ``overrides`` on its defaults.

    The same path as ``alertflow detect``: non-finite values are skipped (NaN score), the
    rest go through one ``update_many`` per file.
    """
    settings = DetectorSettings(**(overrides or {}))
    make = detector_factory(settings)
    out = []
    for data, stamps in zip(dataset.files, dataset.stamps_ns, strict=True):
        scores = np.full(data.values.size, math.nan)
        finite = np.isfinite(data.values)
        scores[finite] = make().update_many(data.values[finite], stamps[finite])
        out.append(scores)
    return out


@dataclass(frozen=True)
class Part:
    """Some files of some datasets, with their scores, scored as one corpus."""

    series: tuple[LabelledSeries, ...]
    scores: tuple[np.ndarray, ...]

    def best(self, profile: CostProfile) -> tuple[float, float]:
        """``(normalised score, threshold)`` at the part's own best threshold (NAB's sweep)."""
        thresholds, raws = threshold_curve(self.series, self.scores, profile)
        k = int(np.argmax(raws))
        return self.normalise(float(raws[k]), profile), float(thresholds[k])

    def at(self, threshold: float, profile: CostProfile) -> float:
        """The normalised score at a threshold chosen elsewhere."""
        raw = sum(score_file(s, x, threshold, profile).raw
                  for s, x in zip(self.series, self.scores, strict=True))
        return self.normalise(raw, profile)

    def normalise(self, raw: float, profile: CostProfile) -> float:
        null = sum(null_score(s, profile) for s in self.series)
        perfect = sum(perfect_score(s, profile) for s in self.series)
        return normalised_score(raw, null, perfect)


def part(datasets: Sequence[Dataset], scores: Mapping[str, list[np.ndarray]],
         keep: Callable[[str, str], bool]) -> Part:
    """The files ``keep(dataset_name, category)`` selects, with their scores."""
    series, chosen = [], []
    for ds in datasets:
        for f, cat, s in zip(ds.files, ds.categories, scores[ds.name], strict=True):
            if keep(ds.name, cat):
                series.append(f.series)
                chosen.append(s)
    return Part(tuple(series), tuple(chosen))
