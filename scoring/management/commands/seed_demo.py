"""Create the synthetic demo cohort (idempotent): users per role, 34 patients, images, reads."""

from __future__ import annotations

import hashlib
import random
import statistics
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from analytics.services import results_batch
from cohorts.models import Cohort, CohortMembership, ImagingStudy, Patient, Site
from cohorts.roles import CLINICIAN, COORDINATOR, RADIOLOGIST, STATISTICIAN, ensure_roles
from cohorts.services import assessment_save, cohort_create, patient_create, study_create
from scoring.demo import (
    FOLLOW_UP_EVERY,
    REREAD_EVERY,
    SECOND_READ_EVERY,
    SITES,
    demo_patients,
    follow_up_grades,
    reader_variant,
)
from scoring.models import CohortProtocol, FunctionalGroup, Read, ScoringProtocol
from scoring.services import (
    adjudication_assign,
    read_assign,
    read_record_complete,
    read_reference_set,
    study_group_level_set,
    training_assign,
)

DEMO_COHORT = "demo-iim"
DEMO_PASSWORD = "iim-demo-2026"  # synthetic demo accounts, printed on purpose
DEMO_USERS = [
    ("demo-radiologist", RADIOLOGIST, "Radiologist: grades blinded reads"),
    ("demo-expert", RADIOLOGIST, "Radiologist who read the demo cohort (reads are submitted)"),
    ("demo-expert-2", RADIOLOGIST, "Second radiologist: double reads of a third of the studies"),
    ("demo-clinician", CLINICIAN, "Clinician: clinical data and dashboards"),
    ("demo-statistician", STATISTICIAN, "Statistician: exports and API"),
    ("demo-coordinator", COORDINATOR, "Coordinator: imports, assignments, admin"),
]
# Cases left open on the demo radiologist's worklist, so the reading page can be tried.
OPEN_CASES_FOR_DEMO_RADIOLOGIST = 6
# The one demo study sent as Enhanced MR (one multi-frame object per station series), the
# way some sites send: the second case on the demo radiologist's worklist.
ENHANCED_DEMO_STUDY = "IIM-0006"


class Command(BaseCommand):
    help = "Create the synthetic demo cohort (idempotent). Prints the demo accounts."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-images",
            action="store_true",
            help="Skip the synthetic DICOM series (faster; the reading page shows no images).",
        )

    def handle(self, *args, **options) -> None:
        ensure_roles()
        users = self._users()
        cohort, created = self._cohort(users)
        if created:
            with results_batch():  # one recomputation at the end, not one per read
                self._patients(cohort, users, images=not options["no_images"])
        else:
            self.stdout.write(f"Demo cohort '{DEMO_COHORT}' exists already; nothing added.")
        self.stdout.write(self.style.SUCCESS("Demo accounts (synthetic data only):"))
        for username, _role, what in DEMO_USERS:
            self.stdout.write(f"  {username:<20} password {DEMO_PASSWORD}   {what}")

    def _users(self) -> dict[str, object]:
        User = get_user_model()
        users = {}
        for username, role, _what in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.is_staff = role == COORDINATOR  # the admin is the coordinator's tool
                user.save()
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    @transaction.atomic
    def _cohort(self, users: dict[str, object]) -> tuple[Cohort, bool]:
        existing = Cohort.objects.filter(slug=DEMO_COHORT).first()
        if existing is not None and existing.patients.exists():
            return existing, False
        sites = [
            Site.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in SITES
        ]
        cohort = existing or cohort_create(
            slug=DEMO_COHORT,
            title="Demo IIM cohort (synthetic)",
            description="34 synthetic patients mirroring the seed paper's cohort (IBM 9, DM 5, "
            "PM 6, ASYS 5, IMNM 9) at two sites. Generated data, not patients.",
            sites=sites,
            actor=None,
            is_synthetic=True,
        )
        for username in ("demo-clinician", "demo-statistician", "demo-coordinator"):
            CohortMembership.objects.get_or_create(cohort=cohort, user=users[username])
        protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
        CohortProtocol.objects.get_or_create(cohort=cohort, defaults={"protocol": protocol})
        return cohort, True

    def _patients(self, cohort: Cohort, users: dict[str, object], *, images: bool) -> None:
        protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
        sites = {site.code: site for site in cohort.sites.all()}
        coordinator = users["demo-coordinator"]
        demo = demo_patients()
        primaries = []
        for index, spec in enumerate(demo):
            with transaction.atomic():
                patient = patient_create(
                    cohort=cohort,
                    actor=coordinator,
                    pseudonym=spec.pseudonym,
                    source_patient_id=spec.source_id,
                    is_synthetic=True,
                    site=sites[spec.site_code],
                    sex=spec.sex,
                    age_at_mri=spec.age,
                    subtype=spec.subtype,
                    classification_criteria=spec.criteria,
                    antibodies=spec.antibodies,
                    seronegative=spec.seronegative,
                    biopsy_done=spec.subtype in {"IBM", "IMNM", "PM"},
                )
                assessment_save(
                    patient=patient,
                    timepoint=0,
                    actor=users["demo-clinician"],
                    days_from_baseline=0,
                    disease_duration_months=Decimal(str(spec.disease_duration_months)),
                    ck=spec.ck,
                    ck_uln=190,
                    mmt8_total=spec.mmt8,
                    treatment_naive=spec.treatment_naive,
                )
            study = (
                self._import_images(cohort, patient, spec, coordinator)
                if images
                else self._study_without_images(patient, spec)
            )
            read = read_assign(
                study=study,
                protocol=protocol,
                reader=users["demo-expert"],
                actor=coordinator,
                is_synthetic=True,
            )
            cells = {
                (slug, side, sequence): str(grade)
                for (slug, side), (stir, t1) in spec.grades.items()
                for sequence, grade in (("STIR", stir), ("T1", t1))
            }
            read_record_complete(
                read=read,
                cells=cells,
                actor=users["demo-expert"],
                reason="synthetic demo read",
                submit=True,
            )
            primaries.append((spec, patient, study, read))
            if index % (len(demo) // OPEN_CASES_FOR_DEMO_RADIOLOGIST) == 0:
                read_assign(
                    study=study,
                    protocol=protocol,
                    reader=users["demo-radiologist"],
                    actor=coordinator,
                    kind=Read.Kind.SECOND,
                    is_synthetic=True,
                )
            self.stdout.write(f"  {spec.pseudonym} {spec.subtype:<5} total {spec.total:5.1f}")
        self._second_opinions_and_follow_ups(primaries, users, protocol)
        self._adjudication_and_training(primaries, users)

    def _second_opinions_and_follow_ups(self, primaries, users, protocol) -> None:
        """Double reads, re-reads and follow-up MRIs, so that reader agreement and change over
        time have something to show (the paper had one reader and one timepoint)."""
        rng = random.Random(20261129)
        expert, second = users["demo-expert"], users["demo-expert-2"]
        coordinator, clinician = users["demo-coordinator"], users["demo-clinician"]

        def record(study, reader, grades, *, kind, rereads=None) -> None:
            read = read_assign(
                study=study,
                protocol=protocol,
                reader=reader,
                actor=coordinator,
                kind=kind,
                rereads=rereads,
                is_synthetic=True,
            )
            read_record_complete(
                read=read,
                cells={
                    (slug, side, sequence): str(grade)
                    for (slug, side), (stir, t1) in grades.items()
                    for sequence, grade in (("STIR", stir), ("T1", t1))
                },
                actor=reader,
                reason="synthetic demo read",
                submit=True,
            )

        for index, (spec, patient, study, read) in enumerate(primaries):
            if index % SECOND_READ_EVERY == 1:
                grades = reader_variant(spec.grades, rng, disagreement=0.12)
                record(study, second, grades, kind=Read.Kind.SECOND)
            if index % REREAD_EVERY == 2:
                grades = reader_variant(spec.grades, rng, disagreement=0.06)
                record(study, expert, grades, kind=Read.Kind.REREAD, rereads=read)
            if index % FOLLOW_UP_EVERY == 0:
                days = rng.randint(300, 420)
                follow_up = study_create(
                    patient=patient,
                    actor=None,
                    source="demo",
                    timepoint=1,
                    days_from_baseline=days,
                    study_uid=_demo_uid(f"{spec.source_id}/follow-up"),
                    field_strength=1.5,
                    scanner_model="Synthetic 1.5 T",
                    description="Whole-body MRI, follow-up",
                )
                record(follow_up, expert, follow_up_grades(spec, rng), kind=Read.Kind.PRIMARY)
                assessment_save(
                    patient=patient,
                    timepoint=1,
                    actor=clinician,
                    days_from_baseline=days,
                    disease_duration_months=Decimal(str(spec.disease_duration_months)),
                    ck=max(50, int(spec.ck * (1.1 if spec.subtype == "IBM" else 0.35))),
                    ck_uln=190,
                    mmt8_total=(
                        None
                        if spec.mmt8 is None
                        else min(150, spec.mmt8 + (-4 if spec.subtype == "IBM" else 6))
                    ),
                    treatment_naive=False,
                )

    def _adjudication_and_training(self, primaries, users) -> None:
        """One double read to adjudicate and two training cases for the demo radiologist, on
        studies they do not read otherwise, so both workflows have something to show."""
        radiologist, coordinator = users["demo-radiologist"], users["demo-coordinator"]
        held = set(Read.objects.filter(reader=radiologist).values_list("study_id", flat=True))
        free = [(study, read) for _s, _p, study, read in primaries if study.pk not in held]
        double_read = [
            study for study, _read in free if study.reads.filter(kind=Read.Kind.SECOND).exists()
        ]
        if double_read:
            adjudication_assign(study=double_read[0], adjudicator=radiologist, actor=coordinator)
        single = [read for study, read in free if study not in double_read][:2]
        for read in single:
            read_reference_set(read=read, is_reference=True, actor=coordinator)
        training_assign(references=single, trainee=radiologist, actor=coordinator)

    def _study_without_images(self, patient: Patient, spec) -> ImagingStudy:
        return study_create(
            patient=patient,
            actor=None,
            source="demo",
            timepoint=0,
            study_uid=_demo_uid(spec.source_id),
            field_strength=1.5,
            scanner_model="Synthetic 1.5 T",
            description="Whole-body MRI",
        )

    def _import_images(self, cohort, patient, spec, actor) -> ImagingStudy:
        from cohorts.imaging.demo_images import import_demo_study

        study = import_demo_study(
            cohort=cohort,
            patient=patient,
            spec=spec,
            actor=actor,
            enhanced=spec.pseudonym == ENHANCED_DEMO_STUDY,
        )
        # The coordinator's levels of the groups, where the synthetic anatomy draws them:
        # the demo reader's viewer opens at the deltoid and follows the grid.
        if getattr(self, "_group_levels", None) is None:
            self._group_levels = _demo_group_levels()  # the same for every demo study
        for group, position in self._group_levels.items():
            study_group_level_set(study=study, group=group, position=position, actor=actor)
        return study


def _demo_group_levels() -> dict[str, float]:
    """Each atlas group's level in the synthetic studies: the median of its muscles' levels."""
    from cohorts.imaging.dicom.synthetic import muscle_levels

    drawn = muscle_levels()
    levels = {}
    for group in FunctionalGroup.objects.prefetch_related("muscles"):
        positions = [drawn[m.slug] for m in group.muscles.all() if m.slug in drawn]
        if positions:
            levels[group.slug] = statistics.median(positions)
    return levels


def _demo_uid(key: str) -> str:
    """A stable study UID for a synthetic study without images (same on every machine)."""
    return "2.25." + str(int(hashlib.sha256(key.encode()).hexdigest()[:24], 16))
