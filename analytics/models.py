"""Stored scores and analysis results, each with what it was computed from."""

from __future__ import annotations

from django.db import models

from cohorts.models import Cohort
from scoring.models import Read


class ReadScores(models.Model):
    """Scores of one read at every level, so cohort analyses never recompute every grade.

    `scores` holds {"unified" | "stir" | "t1": {"muscle": {slug: s}, "group": {slug: G},
    "region": {slug: sum}, "limb": {...}, "total": x, "total_pct": p, "n_graded": k}}.
    """

    read = models.OneToOneField(
        Read, on_delete=models.CASCADE, primary_key=True, related_name="scores"
    )
    fingerprint = models.CharField(max_length=64)
    total = models.FloatField(null=True)
    total_pct = models.FloatField(null=True)
    scores = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"scores of {self.read_id}"


class AnalysisResult(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="analysis_results")
    analysis = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    # sha256 of the canonical JSON of `parameters`: one stored result per parameter set.
    parameters_key = models.CharField(max_length=64)
    input_fingerprint = models.CharField(max_length=64, blank=True)
    code_version = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cohort", "analysis"]
        constraints = [
            models.UniqueConstraint(
                fields=["cohort", "analysis", "parameters_key"], name="one_result_per_parameters"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cohort} {self.analysis} ({self.status})"


class PatientScoreRow(models.Model):
    """One row of a stored per-patient result (`patient_scores`): a patient's scores in one
    scope, at its position in that scope's list.

    Kept out of `AnalysisResult.result` (which holds only the row count per scope) because a
    10,000-patient cohort's rows are 20 MB of JSON: a grade change rewrites the two or three
    rows it changed here instead of the whole value."""

    result = models.ForeignKey(AnalysisResult, on_delete=models.CASCADE, related_name="rows")
    scope = models.CharField(max_length=16)
    position = models.PositiveIntegerField()
    row = models.JSONField()

    class Meta:
        ordering = ["result", "scope", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["result", "scope", "position"], name="one_row_per_result_scope_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.result} {self.scope}[{self.position}]"


class CohortAnalyticsState(models.Model):
    """Whether a cohort's stored results reflect its current grades and clinical data."""

    cohort = models.OneToOneField(
        Cohort, on_delete=models.CASCADE, primary_key=True, related_name="analytics_state"
    )
    stale = models.BooleanField(default=True)
    stale_since = models.DateTimeField(null=True, blank=True)
    # Time of the latest request: results computed from data read before it are stale.
    requested_at = models.DateTimeField(null=True, blank=True)
    # When a recomputation task was queued that has not claimed the cohort yet: requests
    # meanwhile ride on it instead of queueing one task each (set to None by the claim).
    queued_at = models.DateTimeField(null=True, blank=True)
    # The broker refused the last request: queue again when it is back.
    queue_failed = models.BooleanField(default=False)
    recomputing = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id holding the claim: a redelivered task (same id) may take it over.
    claimed_by = models.CharField(max_length=64, blank=True)
    last_completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.cohort}: {'stale' if self.stale else 'fresh'}"
