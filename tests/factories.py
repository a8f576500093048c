"""factory_boy factories and role personas for tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cohorts.models import ClinicalAssessment, Cohort, CohortMembership, ImagingStudy, Patient, Site
from cohorts.roles import ensure_roles

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def user_with_role(role: str, *, username: str, cohort: Cohort | None = None, staff: bool = False):
    ensure_roles()
    user = UserFactory(username=username, is_staff=staff)
    user.groups.add(Group.objects.get(name=role))
    if cohort is not None:
        CohortMembership.objects.get_or_create(cohort=cohort, user=user)
    return user


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"cohort-{n}")
    title = factory.LazyAttribute(lambda o: f"Cohort {o.slug}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    cohort = factory.SubFactory(CohortFactory)
    pseudonym = factory.Sequence(lambda n: f"IIM-{n + 1:04d}")
    site = factory.SubFactory(SiteFactory)
    sex = "F"
    age_at_mri = 70
    subtype = "DM"


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicalAssessment

    patient = factory.SubFactory(PatientFactory)
    timepoint = 0
    ck = 1200
    mmt8_total = 130
    disease_duration_months = 6


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImagingStudy

    patient = factory.SubFactory(PatientFactory)
    timepoint = 0
    study_uid = factory.Sequence(lambda n: f"2.25.{10**20 + n}")
    field_strength = 1.5
