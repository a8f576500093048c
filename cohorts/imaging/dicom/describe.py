"""A series' description as the database may keep it, and the role it gives the series.

Series Description is free text: the Basic Profile removes it, because a technologist may type
a name into it. Sites, though, name their protocols consistently ("t2_tirm_tra_WB", "STIR TRA",
"Dixon_W"), and a coordinator needs those names to tell the stations and roles of a study
apart. So the description is kept cleaned, as the profile's Clean Descriptors option allows:
split into words at anything but letters and digits, a word is kept when it is MR protocol
vocabulary, a number, a short code such as "S1", "p2" or "3D", or at most two characters;
every other word becomes "…". "STIR TRA Mueller" is stored as "STIR TRA …".

Roles: a protocol grades the oedema-sensitive role "STIR" and the fat-sensitive role "T1".
A series gets its role from, in this order,
1. the cohort's description rules, tried in order on the cleaned description, first match
   wins (shell-style patterns, case-insensitive: `*STIR*`, `t1_tse*`, `*_W` for Dixon water);
2. its tags (classify.classify_sequence: TI for STIR, TR/TE for T1);
3. when the tags say neither, the words STIR or TIRM in its description (a STIR whose
   inversion time is missing from the tags, as some exports do).
A coordinator may then set any series' role by hand, which no rule overrides.
"""

from __future__ import annotations

import fnmatch
import re

ROLES = ("STIR", "T1", "OTHER")
MAX_RULES = 50
MAX_PATTERN_LENGTH = 64
DESCRIPTION_LENGTH = 200

# Words of MR protocol names (lower case); anything else that is not a number or short code
# might be a name, so it is not kept.
PROTOCOL_WORDS = frozenset(
    """
    stir tirm tir ir flair t1 t2 pd tse fse se ge gre spgr flash vibe space cube tfe ffe
    haste ssfse epi dwi dti adc b0 b50 b800 dixon ideal mdixon water fat inphase outphase opp
    in out wat fatsat fs spair spir chess nonfs ax axial tra trans transverse cor coronal sag
    sagittal obl oblique wb whole body wholebody station stations stn composed composite comp
    mpr mip sub pre post gd contrast thigh thighs leg legs calf calves arm arms shoulder
    shoulders pelvis chest trunk neck head foot feet knee hip hips upper lower left right bilat
    bilateral muscle muscles scout localizer localiser survey loc mr mri fast turbo short long
    tau inversion recovery weighted weighting iso hr hires highres lowres slab moco norm nd
    dis2d dis3d orig original derived primary secondary map bh fb nav resp trig pace
    """.split()  # noqa: SIM905 - a word list reads better than a list literal
)
_CODE = re.compile(r"^(?:\d+|[a-z]{0,2}\d{1,4}[a-z]{0,2})$", re.IGNORECASE)
_WORDS = re.compile(r"[^\W_]+|[\W_]+")
_STIR_WORDS = frozenset({"stir", "tirm"})


def clean_description(text: str) -> str:
    """The description with every word that is not protocol vocabulary replaced by "…"."""
    out = []
    for piece in _WORDS.findall(str(text or "")):
        if not piece[0].isalnum():
            out.append("".join(c for c in piece if c.isprintable()))
            continue
        word = piece.lower()
        keep = word in PROTOCOL_WORDS or len(word) <= 2 or _CODE.match(word)
        out.append(piece if keep else "…")
    return "".join(out).strip()[:DESCRIPTION_LENGTH]


def rules_errors(rules: object) -> list[str]:
    """What is wrong with a list of description rules, in a coordinator's words."""
    if not isinstance(rules, list):
        return ["The rules are a list of {pattern, role}."]
    if len(rules) > MAX_RULES:
        return [f"At most {MAX_RULES} rules."]
    errors = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or set(rule) != {"pattern", "role"}:
            errors.append(f"Rule {number}: a pattern and a role.")
            continue
        pattern, role = rule["pattern"], rule["role"]
        if not isinstance(pattern, str) or not pattern.strip():
            errors.append(f"Rule {number}: the pattern is empty.")
        elif len(pattern) > MAX_PATTERN_LENGTH or not pattern.isprintable():
            errors.append(
                f"Rule {number}: a pattern is at most {MAX_PATTERN_LENGTH} printable characters."
            )
        if role not in ROLES:
            errors.append(f"Rule {number}: the role is one of {', '.join(ROLES)}.")
    return errors


def series_role(description: str, tag_role: str, rules: list[dict]) -> tuple[str, str]:
    """(role, why) for a series with this cleaned description and this call from its tags."""
    text = description.lower()
    for rule in rules:
        if fnmatch.fnmatchcase(text, rule["pattern"].strip().lower()):
            return rule["role"], f"rule {rule['pattern'].strip()}"
    if tag_role != "OTHER":
        return tag_role, "tags"
    words = {w.lower() for w in re.findall(r"[^\W_]+", description)}
    if words & _STIR_WORDS:
        return "STIR", "description"
    return "OTHER", "tags"
