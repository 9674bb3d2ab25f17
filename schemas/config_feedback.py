"""Settings of learning from operators' verdicts (the ``feedback`` input)."""

from pydantic import BaseModel, ConfigDict, Field


class FeedbackConfig(BaseModel):
    """When verdicts hold pages back (``operators.prediction.feedback``).

    Chosen on ``bench/feedback.py``'s development seeds; see BENCHMARKS.md.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    min_verdicts: float = Field(
        2.0, gt=0, description="Recent noise verdicts (decayed) a kind needs to be held back."
    )
    noise_share: float = Field(0.7, gt=0, le=1, description="Share of them that say noise.")
    window_s: float = Field(
        14 * 86_400.0, gt=0, description="Verdicts older than this expire: suppression fades "
        "when verdicts stop."
    )
    severity_min_labelled: int = Field(
        20, ge=1, description="Incidents labelled with a severity before the model speaks."
    )
    severity_confidence: float = Field(
        0.7, ge=0, le=1, description="A learned severity at least this likely is attached."
    )
