"""Muscle atlas, scoring protocols, reads and grades."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from cohorts.models import Cohort, ImagingStudy

from .scales import (
    ALL_VALUES,
    DEFAULT_SCALE,
    NOT_ASSESSABLE,
    SCALE_CHOICES,
    GradeScale,
    scale_named,
)


class Limb(models.TextChoices):
    UPPER = "upper", "Upper extremity"
    AXIAL = "axial", "Axial (trunk, pelvis)"
    LOWER = "lower", "Lower extremity"


class Region(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    limb = models.CharField(max_length=5, choices=Limb.choices)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name


class FunctionalGroup(models.Model):
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="groups")
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["region__order", "order"]

    def __str__(self) -> str:
        return self.name


class Muscle(models.Model):
    group = models.ForeignKey(FunctionalGroup, on_delete=models.PROTECT, related_name="muscles")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=80)
    paired = models.BooleanField(default=True, help_text="Graded left and right; else midline.")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["group__region__order", "group__order", "order"]

    def __str__(self) -> str:
        return self.name


class SequenceCombine(models.TextChoices):
    MAX = "max", "Maximum of STIR and T1 (the paper's unified grade)"
    MEAN = "mean", "Mean of STIR and T1"
    # For STIR and T1 on different scales, where no grade combines the two.
    T1 = "T1", "T1 only (the fat score; STIR scored apart)"
    STIR = "STIR", "STIR only (the oedema score; T1 scored apart)"


class SideCombine(models.TextChoices):
    MEAN = "mean", "Mean of available sides"
    MAX = "max", "Worse side"


DEFAULT_REGION_FINDINGS = ["fasciitis", "vascular-engorgement", "undulating-fascia", "asymmetry"]


class ScoringProtocol(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    version = models.CharField(max_length=20, default="1")
    description = models.TextField(blank=True)
    muscles = models.ManyToManyField(Muscle, related_name="protocols")
    sequences = models.JSONField(default=list, help_text='Sequences graded, e.g. ["STIR", "T1"].')
    sequence_combine = models.CharField(
        max_length=5, choices=SequenceCombine.choices, default=SequenceCombine.MAX
    )
    side_combine = models.CharField(
        max_length=5, choices=SideCombine.choices, default=SideCombine.MEAN
    )
    stir_scale = models.CharField(
        max_length=30, choices=SCALE_CHOICES, default=DEFAULT_SCALE, help_text="STIR's scale."
    )
    t1_scale = models.CharField(
        max_length=30, choices=SCALE_CHOICES, default=DEFAULT_SCALE, help_text="T1's scale."
    )
    region_findings = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_protocol_version"),
            # No grade is the max (or mean) of two grades on different scales.
            models.CheckConstraint(
                condition=Q(stir_scale=F("t1_scale"))
                | Q(sequence_combine__in=[SequenceCombine.T1, SequenceCombine.STIR]),
                name="protocol_combines_one_scale",
                violation_error_message="STIR and T1 are on different scales: combine them as "
                "'T1 only' or 'STIR only', not as their maximum or mean.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def scale_of(self, sequence: str) -> GradeScale:
        """The scale `sequence` ("STIR" or "T1") is graded on."""
        return scale_named(self.stir_scale if sequence == "STIR" else self.t1_scale)

    def score_scale(self, scope: str) -> GradeScale:
        """The scale of the scores of `scope`: "unified" (by the protocol's combination; one
        scale, which the constraint above guarantees), "stir" or "t1"."""
        if scope == "unified":
            sequence = self.sequence_combine if self.sequence_combine in ("STIR", "T1") else "T1"
            return self.scale_of(sequence)
        return self.scale_of(scope.upper())


class CohortProtocol(models.Model):
    """The scoring protocol a cohort's reads use by default."""

    cohort = models.OneToOneField(Cohort, on_delete=models.CASCADE, related_name="scoring_setup")
    protocol = models.ForeignKey(ScoringProtocol, on_delete=models.PROTECT)
    adjudication_min_difference = models.PositiveSmallIntegerField(
        default=1,
        help_text="A double-read cell goes to adjudication when the two grades differ by at "
        "least this many steps, or one reader said NA and the other did not.",
    )

    def __str__(self) -> str:
        return f"{self.cohort}: {self.protocol}"


def new_read_token() -> str:
    """A random, URL-safe name for a read in the reader's URLs (never its sequential id)."""
    return secrets.token_urlsafe(16)


class Read(models.Model):
    """One reader's scoring of one imaging study under one protocol."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"

    class Kind(models.TextChoices):
        PRIMARY = "primary", "Primary read"
        SECOND = "second", "Second read (double reading)"
        CONSENSUS = "consensus", "Consensus read"
        REREAD = "reread", "Re-read (intra-reader agreement)"
        TRAINING = "training", "Training read (compared with a reference; never analysed)"

    study = models.ForeignKey(ImagingStudy, on_delete=models.PROTECT, related_name="reads")
    protocol = models.ForeignKey(ScoringProtocol, on_delete=models.PROTECT, related_name="reads")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reads"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PRIMARY)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ASSIGNED)
    # All a reader ever sees of the case.
    blind_label = models.CharField(max_length=12, unique=True)
    # The read in the reader's URLs, and the key of its own UID remap: ids follow import
    # order, which follows pseudonyms (DESIGN.md, "Blinding beyond the page text").
    token = models.CharField(max_length=32, unique=True, default=new_read_token, editable=False)
    # Random per reader: the worklist order, so cases are not read in cohort order.
    sort_key = models.FloatField(default=0.0)
    # Optimistic concurrency: every change increments it; a stale writer is refused.
    version = models.PositiveIntegerField(default=0)
    active_seconds = models.PositiveIntegerField(default=0, help_text="Active reading time.")
    note = models.TextField(blank=True)
    findings = models.JSONField(default=dict, blank=True, help_text="Region-level yes/no findings.")
    # The reader's own navigation pins, {group slug: position in mm along the patient axis}:
    # "this slice is the level of the thigh"; never shown to another reader.
    level_pins = models.JSONField(default=dict, blank=True)
    # An adjudication (a consensus read made from two readers' reads): the cells to decide,
    # each [muscle slug, side, sequence, Reader A's grade, Reader B's grade], the reads and the
    # threshold; the other cells hold the readers' grade from the start. Empty otherwise.
    adjudication = models.JSONField(default=dict, blank=True)
    rereads = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rereaders"
    )
    # Training: an expert's submitted read a coordinator marked as a reference, and a trainee's
    # training read of the same study, compared with it after submission.
    is_reference = models.BooleanField(default=False)
    reference = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="training_reads"
    )
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A re-read appears on the worklist from this time."
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    is_synthetic = models.BooleanField(default=False)

    class Meta:
        ordering = ["reader", "sort_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "protocol", "reader", "kind"], name="one_read_per_reader_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.blind_label


class GradeSequence(models.TextChoices):
    # Labelled explicitly: Django would label "STIR" as "Stir" (the SAV value labels showed it).
    STIR = "STIR", "STIR"
    T1 = "T1", "T1"


class Side(models.TextChoices):
    LEFT = "L", "Left"
    RIGHT = "R", "Right"
    MIDLINE = "M", "Midline"


class GradeValue(models.TextChoices):
    """Every value a grade may hold on some scale; the protocol's scale per sequence narrows
    them (scoring/scales.py has the labels)."""

    G0 = "0", "0"
    G1 = "1", "1"
    G2 = "2", "2"
    G3 = "3", "3"
    G4 = "4", "4"
    G5 = "5", "5"
    NOT_ASSESSABLE = "NA", "NA – not assessable"


class Grade(models.Model):
    read = models.ForeignKey(Read, on_delete=models.PROTECT, related_name="grades")
    muscle = models.ForeignKey(Muscle, on_delete=models.PROTECT, related_name="grades")
    side = models.CharField(max_length=1, choices=Side.choices)
    sequence = models.CharField(max_length=4, choices=GradeSequence.choices)
    value = models.CharField(max_length=2, choices=GradeValue.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["read", "muscle", "side", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["read", "muscle", "side", "sequence"], name="one_grade_per_cell"
            ),
            models.CheckConstraint(
                condition=Q(value__in=[*ALL_VALUES, NOT_ASSESSABLE]), name="grade_is_0_to_5_or_na"
            ),
            models.CheckConstraint(condition=Q(side__in=["L", "R", "M"]), name="grade_side_valid"),
            models.CheckConstraint(
                condition=Q(sequence__in=["STIR", "T1"]), name="grade_sequence_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.read} {self.muscle.slug} {self.side} {self.sequence}={self.value}"


class ReaderPreference(models.Model):
    """Per-reader viewer settings: last window/level per sequence, remapped shortcuts."""

    reader = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_preference"
    )
    voi = models.JSONField(default=dict, blank=True)
    keymap = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"preferences of {self.reader}"
