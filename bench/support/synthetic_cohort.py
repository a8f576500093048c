"""A large synthetic cohort for benchmarks, written straight into a migrated database.

    from bench.support.synthetic_cohort import build_cohort
    cohort_id = build_cohort(database_url, n_patients=10_000, seed=7)

Each patient gets a site, subtype, sex, age, antibodies, one baseline clinical assessment
(disease duration, CK, MMT-8, treatment-naive), one whole-body MRI study and one *submitted*
read by one radiologist with every cell of the protocol graded (60 muscles x 2 sides x 2
sequences = 240 grades per read: 2.4 M grades for 10,000 patients). The values are random but
plausible: a latent severity per patient, subtype patterns after the seed paper (DM proximal
and upper limb, IBM distal flexors and quadriceps and asymmetric, IMNM severe thighs, ASYS
mild), fat (T1) following oedema (STIR) and disease duration, MMT-8 falling and CK rising with
severity, a few NA cells.

Benchmark setup only: this bypasses the services on purpose (no audit events, no stale marks,
no validation per cell). Small rows go through the ORM's bulk_create, the grades through
Postgres COPY. Django must either be unconfigured (it is then set up on `database_url`) or
already configured on that same database.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlparse

import numpy as np
from django.db import DatabaseError, transaction

SUBTYPES = ["IBM", "DM", "PM", "ASYS", "IMNM", "other"]
SUBTYPE_SHARE = [0.20, 0.30, 0.08, 0.20, 0.17, 0.05]
ANTIBODIES = {
    "IBM": ["cN1A"],
    "DM": ["Mi-2", "TIF1-γ", "NXP2", "MDA5", "SAE"],
    "PM": ["Ro52"],
    "ASYS": ["Jo-1", "PL-7", "PL-12", "EJ", "OJ"],
    "IMNM": ["SRP", "HMGCR"],
    "other": ["PM-Scl", "Ku"],
}
# Involvement weight of each functional group per subtype (1 = the patient's own severity).
GROUP_WEIGHTS = {
    "IBM": {
        "lower-arm-flexors": 1.6,
        "lower-leg-flexors": 1.5,
        "ventral-thigh": 1.5,
        "medial-thigh": 0.9,
        "default": 0.5,
    },
    "DM": {
        "shoulder-girdle": 1.4,
        "rotator-cuff": 1.2,
        "upper-arm-flexors": 1.3,
        "upper-arm-extensors": 1.2,
        "gluteal": 1.1,
        "ventral-thigh": 1.0,
        "medial-thigh": 1.1,
        "default": 0.7,
    },
    "PM": {
        "gluteal": 1.1,
        "ventral-thigh": 1.0,
        "medial-thigh": 1.1,
        "dorsal-thigh": 1.0,
        "default": 0.6,
    },
    "ASYS": {"medial-thigh": 0.8, "dorsal-thigh": 0.8, "default": 0.45},
    "IMNM": {
        "gluteal": 1.3,
        "ventral-thigh": 1.2,
        "medial-thigh": 1.5,
        "dorsal-thigh": 1.4,
        "default": 0.9,
    },
    "other": {"default": 0.6},
}
CHUNK_READS = 1000  # grades are copied 240,000 rows at a time


def _django_on(database_url: str) -> None:
    """Set Django up on `database_url`, or check that it already runs on that database."""
    from django.conf import settings

    if not settings.configured:
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iim_scoring.settings")
    import django

    django.setup()
    from django.db import connection

    wanted = urlparse(database_url).path.lstrip("/")
    if connection.settings_dict["NAME"] != wanted:
        raise RuntimeError(
            f"Django runs on {connection.settings_dict['NAME']!r}, "
            f"not on {wanted!r}: start a process with DATABASE_URL={database_url}"
        )


def _skip_fk_triggers(cursor) -> None:
    """Check no foreign key row by row during the grade COPY (the ids come from the rows just
    created): `session_replication_role = replica` for this transaction, when the role may
    set it (a superuser); otherwise the checks simply run, slower, at commit."""
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass


def build_cohort(
    database_url: str,
    n_patients: int = 10_000,
    seed: int = 0,
    *,
    slug: str | None = None,
    protocol_slug: str = "whole-body-iim",
    reader_username: str | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Create the cohort (see the module doc) and return its id; `log` hears each step."""
    began = time.perf_counter()

    def step(what: str) -> None:
        if log:
            log(f"  {time.perf_counter() - began:6.1f} s  {what}")

    _django_on(database_url)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    from cohorts.models import ClinicalAssessment, Cohort, ImagingStudy, Patient, Site
    from cohorts.roles import RADIOLOGIST, ensure_roles
    from scoring.models import CohortProtocol, Read, ScoringProtocol

    rng = np.random.default_rng(seed)
    now = timezone.now()
    ensure_roles()
    protocol = ScoringProtocol.objects.get(slug=protocol_slug)
    muscles = list(
        protocol.muscles.select_related("group")
        .order_by("group__region__order", "group__order", "order")
        .values_list("pk", "group__slug", "paired")
    )
    sides = [
        (pk, group, side)
        for pk, group, paired in muscles
        for side in (("L", "R") if paired else ("M",))
    ]
    sequences = [s for s in ("STIR", "T1") if s in protocol.sequences]

    with transaction.atomic():
        sites = [
            Site.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in (
                ("bench-north", "Bench University Hospital North"),
                ("bench-south", "Bench University Hospital South"),
            )
        ]
        slug = slug or f"bench-{n_patients}-{seed}"
        cohort = Cohort.objects.create(
            slug=slug,
            title=f"Benchmark cohort ({n_patients} synthetic patients)",
            is_synthetic=True,
        )
        cohort.sites.set(sites)
        CohortProtocol.objects.create(cohort=cohort, protocol=protocol)
        reader = get_user_model().objects.create_user(
            username=reader_username or f"bench-reader-{cohort.pk}", password=None
        )
        reader.groups.add(Group.objects.get(name=RADIOLOGIST))

        # -- patients and their clinical data
        subtype_idx = rng.choice(len(SUBTYPES), size=n_patients, p=SUBTYPE_SHARE)
        subtypes = [SUBTYPES[i] for i in subtype_idx]
        is_ibm = subtype_idx == 0
        male = rng.random(n_patients) < np.where(is_ibm, 0.65, 0.32)
        age = (
            np.clip(
                np.where(is_ibm, rng.normal(67, 8, n_patients), rng.normal(52, 14, n_patients)),
                18,
                92,
            )
            .round()
            .astype(int)
        )
        severity = rng.beta(2.0, 3.0, n_patients) * np.where(subtype_idx == 3, 0.7, 1.0)
        duration = np.round(rng.gamma(1.6, np.where(is_ibm, 30.0, 6.0)), 1)
        patients = []
        for i in range(n_patients):
            subtype = subtypes[i]
            antibodies = []
            if rng.random() < 0.75:
                antibodies = [str(rng.choice(ANTIBODIES[subtype]))]
            patients.append(
                Patient(
                    cohort=cohort,
                    pseudonym=f"BENCH-{i + 1:05d}",
                    site=sites[i % 2],
                    sex="M" if male[i] else "F",
                    age_at_mri=int(age[i]),
                    subtype=subtype,
                    antibodies=antibodies,
                    seronegative=not antibodies,
                    is_synthetic=True,
                )
            )
        patients = Patient.objects.bulk_create(patients, batch_size=2000)
        step(f"{n_patients} patients")

        # -- grades: intensity per (patient, muscle, side), STIR oedema and T1 fat from it
        weights = np.array(
            [
                [
                    GROUP_WEIGHTS[s].get(group, GROUP_WEIGHTS[s]["default"])
                    for _pk, group, _side in sides
                ]
                for s in SUBTYPES
            ]
        )
        intensity = severity[:, None] * weights[subtype_idx]
        left = np.array([side == "L" for _pk, _group, side in sides])
        asymmetry = rng.normal(0, 0.25, n_patients) * is_ibm  # IBM: one side worse
        intensity = intensity * (1 + np.where(left, asymmetry[:, None], -asymmetry[:, None]))
        stir = np.digitize(intensity * 2.4 + rng.normal(0, 0.45, intensity.shape), [0.9, 1.9])
        chronic = np.clip(duration / 60.0, 0, 1.2)[:, None]
        t1 = np.digitize(
            intensity * (1.2 + 1.6 * chronic)
            + rng.normal(0, 0.45, intensity.shape)
            + np.where(is_ibm, 0.5, 0.0)[:, None],
            [1.0, 2.0],
        )
        by_sequence = {"STIR": stir, "T1": t1}
        unified = np.maximum(stir, t1).mean(axis=1)  # rough total, for the clinical values

        mmt8 = np.clip(150 - 55 * unified + rng.normal(0, 9, n_patients), 40, 150).round()
        ck_median = np.array([400, 900, 1500, 700, 4000, 300])[subtype_idx]
        ck = np.clip(
            ck_median * np.exp(0.9 * unified + rng.normal(0, 0.6, n_patients)), 40, 60000
        ).round()
        ClinicalAssessment.objects.bulk_create(
            [
                ClinicalAssessment(
                    patient=p,
                    timepoint=0,
                    days_from_baseline=0,
                    disease_duration_months=Decimal(f"{duration[i]:.1f}"),
                    ck=int(ck[i]),
                    ck_uln=170,
                    mmt8_total=int(mmt8[i]),
                    treatment_naive=bool(rng.random() < 0.6),
                )
                for i, p in enumerate(patients)
            ],
            batch_size=2000,
        )
        step("clinical assessments")

        # -- one study and one submitted read per patient
        uid_base = int(rng.integers(10**15, 10**16))
        studies = ImagingStudy.objects.bulk_create(
            [
                ImagingStudy(
                    patient=p,
                    timepoint=0,
                    days_from_baseline=0,
                    study_uid=f"2.25.{uid_base}{cohort.pk:05d}{i:07d}",
                    description="Whole-body MRI (synthetic)",
                    field_strength=1.5,
                    scanner_model="Bench MR",
                    body_coverage="whole-body",
                )
                for i, p in enumerate(patients)
            ],
            batch_size=2000,
        )
        reads = Read.objects.bulk_create(
            [
                Read(
                    study=s,
                    protocol=protocol,
                    reader=reader,
                    kind=Read.Kind.PRIMARY,
                    status=Read.Status.SUBMITTED,
                    blind_label=f"B{cohort.pk:04d}{i:06d}",
                    sort_key=float(rng.random()),
                    version=1,
                    submitted_at=now,
                    active_seconds=int(rng.integers(120, 900)),
                    is_synthetic=True,
                )
                for i, s in enumerate(studies)
            ],
            batch_size=2000,
        )
        read_ids = np.array([r.pk for r in reads], dtype=np.int64)
        step("studies and submitted reads")

        # -- 240 grades per read through COPY, NA in 0.5 % of the cells
        muscle_ids = np.array([pk for pk, _group, _side in sides])
        side_codes = np.array([side for _pk, _group, side in sides])
        labels = np.array(["0", "1", "2"])
        stamp = now.isoformat()
        with connection.cursor() as cursor:
            _skip_fk_triggers(cursor)
            for start in range(0, n_patients, CHUNK_READS):
                stop = min(start + CHUNK_READS, n_patients)
                buffer = io.StringIO()
                for sequence in sequences:
                    values = labels[by_sequence[sequence][start:stop]].astype(object)
                    values[rng.random(values.shape) < 0.005] = "NA"
                    rows = np.column_stack(
                        [
                            np.repeat(read_ids[start:stop], len(sides)).astype(str),
                            np.tile(muscle_ids, stop - start).astype(str),
                            np.tile(side_codes, stop - start),
                            np.full((stop - start) * len(sides), sequence),
                            values.reshape(-1).astype(str),
                        ]
                    )
                    buffer.write("\n".join("\t".join(row) + f"\t{stamp}" for row in rows))
                    buffer.write("\n")
                with cursor.copy(
                    "COPY scoring_grade (read_id, muscle_id, side, sequence, value, updated_at)"
                    " FROM STDIN"
                ) as copy:
                    copy.write(buffer.getvalue())
        step(f"{n_patients * len(sides) * len(sequences)} grades copied")
    step("committed")
    # The steady state of a database that has lived with its data, not the minute after a bulk
    # load: hint bits and visibility map set (VACUUM), planner statistics (ANALYZE), the load's
    # dirty pages written out (CHECKPOINT, when the role may).
    with connection.cursor() as cursor:
        for table in (
            "cohorts_patient",
            "cohorts_clinicalassessment",
            "cohorts_imagingstudy",
            "scoring_read",
            "scoring_grade",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")
    step("vacuumed and analyzed")
    return cohort.pk
