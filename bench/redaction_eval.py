"""Redaction on the test corpus: alertflow's regex rules vs scrubadub (if installed).

Prints, per redactor, how many of the corpus's secrets are gone, how many of the
text spans that must stay are intact, and the time per text (median of 5 passes).
scrubadub is not a dependency: install it beside alertflow to measure it
(``pip install scrubadub``). Presidio was not measured: its analyzer needs a spaCy
model fetched from a hub, which this machine cannot reach, and its recognisers for
e-mails, IPs and keys are regexes as ours are.

    python -m bench.redaction_eval
"""

import statistics
import time
from collections.abc import Callable

from alertflow.operators.redaction import Redactor
from alertflow.schemas.config import RedactionConfig

from tests.redaction_corpus import CASES


def _score(name: str, clean: Callable[[str], str]) -> str:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        outs = [clean(text) for text, _, _ in CASES]
        times.append((time.perf_counter() - start) / len(CASES))
    secrets = sum(len(s) for _, s, _ in CASES)
    caught = sum(x not in out for out, (_, s, _) in zip(outs, CASES, strict=True) for x in s)
    keeps = sum(len(k) for _, _, k in CASES)
    kept = sum(x in out for out, (_, _, k) in zip(outs, CASES, strict=True) for x in k)
    return (f"{name:<26} {caught:>3}/{secrets:<3} {kept:>3}/{keeps:<3} "
            f"{statistics.median(times) * 1e6:>10.1f}")  # fmt: skip


def main() -> None:
    """Print the table."""
    print(f"{'redactor':<26} {'secrets gone':>12} {'kept':>7} {'us/text':>10}")
    print(_score("alertflow regex rules", Redactor(RedactionConfig()).redact_text))
    try:
        import scrubadub  # type: ignore[import-not-found]
    except ImportError:
        print("scrubadub                  not installed")
        return
    print(_score(f"scrubadub {scrubadub.__version__}", scrubadub.Scrubber().clean))


if __name__ == "__main__":
    main()
