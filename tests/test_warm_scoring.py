"""Building a flow that scores loads the scoring kernels, so the first poll does not wait."""

import subprocess
import sys

_PROBE = """
from alertflow.operators.anomaly.ensemble_kernel import ensemble_step
from alertflow.operators.anomaly.stacked import ensemble_rows
from alertflow.dataflows.flow import build_flow
from alertflow.schemas.config import AlertflowConfig

open("in.jsonl", "w").close()
kernels = (ensemble_step, ensemble_rows)
before = [len(k.signatures) for k in kernels]
build_flow(AlertflowConfig.model_validate({"inputs": {"metrics": ["in.jsonl"]}, "output": "out"}))
print(before, [len(k.signatures) for k in kernels])
"""


def test_a_scoring_flow_has_its_kernels_loaded_once_built(tmp_path):
    # A fresh interpreter: in this one another test may have called the kernels already.
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, capture_output=True,
                          text=True, check=True, timeout=300)
    before, after = done.stdout.strip().rsplit("] [", 1)
    assert before == "[0, 0"  # nothing loaded by importing
    assert "0" not in after.rstrip("]").split(", ")  # both loaded by building the flow
