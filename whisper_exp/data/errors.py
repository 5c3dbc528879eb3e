"""Data faults: one error type that names where it happened, and a counter for skipped samples.

Policy (``data.on_error``): ``raise`` stops at the first bad sample with a message naming the
source, file/row and what to do; ``skip`` drops it and counts it per source and reason, and the
counts are logged and written to summary.json. Filter drops (too long, empty text, …) are
counted by the same counter, so one table says what was left out and why.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("raise", "skip")
EXAMPLES_KEPT = 3


class DataError(ValueError):
    """Bad input data or data config; the message says where and what to do."""


class MissingSplitError(DataError):
    """A split (evaluation set) that the data does not have; the message lists the ones it has."""


@dataclass
class DropCounter:
    """Counts samples left out, per (source, reason), with a few example ids per reason."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, source: str, reason: str, detail: str) -> None:
        """Record one dropped sample; `detail` names the file/row/id."""
        key = (source, reason)
        self.counts[key] += 1
        if len(self.examples[key]) < EXAMPLES_KEPT:
            self.examples[key].append(detail)

    def fault(self, on_error: str, source: str, reason: str, message: str) -> None:
        """A per-sample fault: raise a DataError, or count it when `on_error` is "skip"."""
        if on_error == "raise":
            raise DataError(f"[{source}] {message} (set data.on_error=skip to skip and count such samples)")
        self.drop(source, reason, message)

    def merge(self, other: DropCounter) -> None:
        """Add `other`'s counts (and examples, up to the kept number) to this counter."""
        for key, count in other.counts.items():
            self.counts[key] += count
            kept = self.examples[key]
            kept.extend(other.examples.get(key, [])[: max(0, EXAMPLES_KEPT - len(kept))])

    def total(self) -> int:
        """How many samples were dropped in all."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """{source: {reason: count}} for summary.json."""
        table: dict[str, dict[str, int]] = defaultdict(dict)
        for (source, reason), count in sorted(self.counts.items()):
            table[source][reason] = count
        return dict(table)

    def log_summary(self, stage: str) -> None:
        """Log one line per (source, reason) with examples; silent when nothing was dropped."""
        for (source, reason), count in sorted(self.counts.items()):
            examples = "; ".join(self.examples[(source, reason)])
            log.warning("%s: dropped %d sample(s) from %s: %s (e.g. %s)", stage, count, source, reason, examples)
