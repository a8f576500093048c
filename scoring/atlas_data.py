"""The default whole-body IIM muscle atlas (DESIGN.md), as plain data.

Pure Python with no Django import: the data migration, the synthetic demo images and the
statistics tests all read it from here, so there is exactly one list of muscles.
Each muscle is paired (graded left and right).
"""

from __future__ import annotations

from typing import NamedTuple


class AtlasMuscle(NamedTuple):
    slug: str
    name: str
    group: str
    region: str
    limb: str


# (slug, name, limb). The issue asks for five regions: DESIGN.md's "lower extremity" is split
# into thigh and lower leg (the paper's thigh-only option needs the thigh on its own); `limb`
# keeps the paper's upper- vs lower-extremity comparison (pelvis and trunk are axial).
REGIONS: list[tuple[str, str, str]] = [
    ("upper-extremity", "Upper extremity", "upper"),
    ("trunk", "Trunk", "axial"),
    ("pelvis", "Pelvis", "axial"),
    ("thigh", "Thigh", "lower"),
    ("lower-leg", "Lower leg", "lower"),
]

# (region slug, group slug, group name, [(muscle slug, muscle name), ...]) in display order.
GROUPS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "upper-extremity",
        "shoulder-girdle",
        "Shoulder girdle (non-rotator cuff)",
        [
            ("deltoid", "Deltoid"),
            ("teres-major", "Teres major"),
            ("coracobrachialis", "Coracobrachialis"),
        ],
    ),
    (
        "upper-extremity",
        "rotator-cuff",
        "Rotator cuff",
        [
            ("supraspinatus", "Supraspinatus"),
            ("infraspinatus", "Infraspinatus"),
            ("teres-minor", "Teres minor"),
            ("subscapularis", "Subscapularis"),
        ],
    ),
    (
        "upper-extremity",
        "upper-arm-flexors",
        "Upper arm flexors",
        [
            ("biceps-brachii", "Biceps brachii"),
            ("brachialis", "Brachialis"),
        ],
    ),
    (
        "upper-extremity",
        "upper-arm-extensors",
        "Upper arm extensors",
        [
            ("triceps-brachii", "Triceps brachii"),
        ],
    ),
    (
        "upper-extremity",
        "lower-arm-flexors",
        "Lower arm flexors",
        [
            ("pronator-teres", "Pronator teres"),
            ("flexor-carpi-radialis", "Flexor carpi radialis"),
            ("flexor-carpi-ulnaris", "Flexor carpi ulnaris"),
            ("flexor-digitorum-superficialis", "Flexor digitorum superficialis"),
            ("flexor-digitorum-profundus", "Flexor digitorum profundus"),
            ("flexor-pollicis-longus", "Flexor pollicis longus"),
        ],
    ),
    (
        "upper-extremity",
        "lower-arm-extensors",
        "Lower arm extensors",
        [
            ("brachioradialis", "Brachioradialis"),
            ("extensor-carpi-radialis", "Extensor carpi radialis"),
            ("extensor-digitorum", "Extensor digitorum"),
            ("extensor-carpi-ulnaris", "Extensor carpi ulnaris"),
            ("supinator", "Supinator"),
        ],
    ),
    (
        "trunk",
        "chest-wall",
        "Chest wall",
        [
            ("pectoralis-major", "Pectoralis major"),
            ("pectoralis-minor", "Pectoralis minor"),
            ("serratus-anterior", "Serratus anterior"),
        ],
    ),
    (
        "trunk",
        "extrinsic-back",
        "Extrinsic back",
        [
            ("trapezius", "Trapezius"),
            ("latissimus-dorsi", "Latissimus dorsi"),
            ("rhomboids", "Rhomboids"),
            ("levator-scapulae", "Levator scapulae"),
        ],
    ),
    (
        "trunk",
        "intrinsic-back",
        "Intrinsic back",
        [
            ("erector-spinae-thoracic", "Erector spinae (thoracic)"),
            ("erector-spinae-lumbar", "Erector spinae (lumbar)"),
            ("multifidus", "Multifidus"),
        ],
    ),
    (
        "pelvis",
        "gluteal",
        "Gluteal",
        [
            ("gluteus-maximus", "Gluteus maximus"),
            ("gluteus-medius", "Gluteus medius"),
            ("gluteus-minimus", "Gluteus minimus"),
            ("tensor-fasciae-latae", "Tensor fasciae latae"),
            ("iliopsoas", "Iliopsoas"),
        ],
    ),
    (
        "thigh",
        "ventral-thigh",
        "Ventral thigh",
        [
            ("rectus-femoris", "Rectus femoris"),
            ("vastus-lateralis", "Vastus lateralis"),
            ("vastus-intermedius", "Vastus intermedius"),
            ("vastus-medialis", "Vastus medialis"),
            ("sartorius", "Sartorius"),
        ],
    ),
    (
        "thigh",
        "medial-thigh",
        "Medial thigh",
        [
            ("adductor-magnus", "Adductor magnus"),
            ("adductor-longus", "Adductor longus"),
            ("adductor-brevis", "Adductor brevis"),
            ("gracilis", "Gracilis"),
        ],
    ),
    (
        "thigh",
        "dorsal-thigh",
        "Dorsal thigh",
        [
            ("biceps-femoris-long", "Biceps femoris (long head)"),
            ("biceps-femoris-short", "Biceps femoris (short head)"),
            ("semitendinosus", "Semitendinosus"),
            ("semimembranosus", "Semimembranosus"),
        ],
    ),
    (
        "lower-leg",
        "lower-leg-extensors",
        "Lower leg extensors",
        [
            ("tibialis-anterior", "Tibialis anterior"),
            ("extensor-digitorum-longus", "Extensor digitorum longus"),
            ("extensor-hallucis-longus", "Extensor hallucis longus"),
            ("peroneus-longus", "Peroneus longus"),
            ("peroneus-brevis", "Peroneus brevis"),
        ],
    ),
    (
        "lower-leg",
        "lower-leg-flexors",
        "Lower leg flexors",
        [
            ("gastrocnemius-medial", "Gastrocnemius (medial head)"),
            ("gastrocnemius-lateral", "Gastrocnemius (lateral head)"),
            ("soleus", "Soleus"),
            ("tibialis-posterior", "Tibialis posterior"),
            ("flexor-digitorum-longus", "Flexor digitorum longus"),
            ("flexor-hallucis-longus", "Flexor hallucis longus"),
        ],
    ),
]

THIGH_GROUPS = ["ventral-thigh", "medial-thigh", "dorsal-thigh"]


def atlas_muscles() -> list[AtlasMuscle]:
    """Every muscle of the default atlas in display order."""
    limb_of = {slug: limb for slug, _name, limb in REGIONS}
    return [
        AtlasMuscle(slug, name, group, region, limb_of[region])
        for region, group, _group_name, muscles in GROUPS
        for slug, name in muscles
    ]
