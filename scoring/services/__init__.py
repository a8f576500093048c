"""Writes of the scoring domain, by subdomain: assignment, grading, the read's life after
assignment (submit, amend, notes), reader preferences; refusal messages in `messages`.

Every function here runs in a transaction, writes its audit row in it, and marks the patient's
results stale through analytics' one door. Callers import from `scoring.services`.
"""

from scoring.services.adjudication import (
    NOT_DOUBLE_READ,
    adjudication_assign,
    cohort_adjudication_threshold_set,
)
from scoring.services.assignment import (
    AssignmentPlan,
    AssignmentPreview,
    read_assign,
    reads_assign_bulk,
    reads_assign_preview,
)
from scoring.services.grading import (
    CellChange,
    grades_set,
    read_missing_cells,
    read_record_complete,
)
from scoring.services.imaging import (
    cohort_series_rules_set,
    read_level_pin,
    study_group_level_set,
)
from scoring.services.messages import (
    AMEND_NEEDS_REASON,
    AMEND_NOT_SUBMITTED,
    FINDING_INVALID,
    GRADE_CELL_INVALID,
    GRADE_VALUE_INVALID,
    READ_INCOMPLETE,
    READ_LOCKED,
    READ_STALE,
    READER_HOLDS_STUDY,
    READER_NOT_RADIOLOGIST,
)
from scoring.services.preferences import reader_preferences_update
from scoring.services.reads import (
    read_add_active_time,
    read_amend,
    read_audit_trail,
    read_submit,
    read_update_notes,
)
from scoring.services.training import read_reference_set, training_assign
from scoring.services.vocabulary import series_sequence_set, vocabulary_record_change

__all__ = [
    "read_reference_set",
    "training_assign",
    "NOT_DOUBLE_READ",
    "adjudication_assign",
    "cohort_adjudication_threshold_set",
    "cohort_series_rules_set",
    "read_level_pin",
    "study_group_level_set",
    "AMEND_NEEDS_REASON",
    "AMEND_NOT_SUBMITTED",
    "FINDING_INVALID",
    "GRADE_CELL_INVALID",
    "GRADE_VALUE_INVALID",
    "READER_HOLDS_STUDY",
    "READER_NOT_RADIOLOGIST",
    "READ_INCOMPLETE",
    "READ_LOCKED",
    "READ_STALE",
    "AssignmentPlan",
    "AssignmentPreview",
    "CellChange",
    "grades_set",
    "read_add_active_time",
    "read_amend",
    "read_assign",
    "read_audit_trail",
    "read_missing_cells",
    "read_record_complete",
    "read_submit",
    "read_update_notes",
    "reader_preferences_update",
    "reads_assign_bulk",
    "reads_assign_preview",
    "series_sequence_set",
    "vocabulary_record_change",
]
