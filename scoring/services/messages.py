"""Messages of the reading services' refusals: tests assert on these constants."""

READ_LOCKED = "This read is submitted; amend it with a reason."
READ_STALE = "This read was changed elsewhere (another tab or device); reload to see the latest."
READ_INCOMPLETE = "Every cell must be graded or marked NA before the read can be submitted."
AMEND_NEEDS_REASON = "An amendment needs a reason."
AMEND_NOT_SUBMITTED = "Only a submitted read can be amended."
GRADE_VALUE_INVALID = (
    "{sequence} is graded on the {scale} scale: {value!r} is not a grade; "
    "a grade is {values} or NA."
)
GRADE_CELL_INVALID = "That muscle, side or sequence is not part of this read's protocol."
READER_NOT_RADIOLOGIST = "Reads can only be assigned to users with the radiologist role."
FINDING_INVALID = "That region-level finding is not part of this read's protocol."
KEYMAP_INVALID = (
    "A keymap entry is named grid.<action> or viewer.<action> and gives one to four key "
    "bindings of at most 40 characters."
)
KEYMAP_TOO_LARGE = "A keymap holds at most 64 entries."
VOI_INVALID = (
    "A window/level is {center, width}, finite numbers with a width above 0, for STIR or T1."
)
NOTE_TOO_LONG = "A note holds at most 10,000 characters."
TEXT_HAS_NUL = "Text must not contain NUL characters."
READER_HOLDS_STUDY = (
    "This reader already holds a read of this study; only an explicit re-read gives them another."
)
