"""Controlled vocabularies of the clinical domain (DESIGN.md "cohorts")."""

from django.db import models


class Subtype(models.TextChoices):
    IBM = "IBM", "Inclusion body myositis"
    DM = "DM", "Dermatomyositis"
    PM = "PM", "Polymyositis"
    ASYS = "ASYS", "Anti-synthetase syndrome"
    IMNM = "IMNM", "Immune-mediated necrotizing myopathy"
    OTHER = "other", "Other / unclassified"


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    UNKNOWN = "U", "Unknown"


class Criteria(models.TextChoices):
    EULAR_ACR_2017 = "eular-acr-2017", "EULAR/ACR 2017"
    ENMC_ASYS_2024 = "enmc-asys-2024", "ENMC 2024 anti-synthetase syndrome"
    ENMC_IBM_CLINICAL = "enmc-ibm-clinical", "ENMC IBM clinically defined"
    ENMC_IBM_PROBABLE = "enmc-ibm-probable", "ENMC IBM probable"
    ENMC_IBM_PATHOLOGICAL = "enmc-ibm-pathological", "ENMC IBM pathologically defined"


class Antibody(models.TextChoices):
    JO1 = "Jo-1"
    PL7 = "PL-7"
    PL12 = "PL-12"
    EJ = "EJ"
    OJ = "OJ"
    MI2 = "Mi-2"
    TIF1G = "TIF1-γ"
    NXP2 = "NXP2"
    MDA5 = "MDA5"
    SAE = "SAE"
    SRP = "SRP"
    HMGCR = "HMGCR"
    CN1A = "cN1A"
    RO52 = "Ro52"
    PMSCL = "PM-Scl"
    KU = "Ku"


class EmgFinding(models.TextChoices):
    MYOPATHIC = "yes", "Myopathic"
    NOT_MYOPATHIC = "no", "Not myopathic"
    NOT_DONE = "not-done", "Not done"


class Sequence(models.TextChoices):
    STIR = "STIR"
    T1 = "T1"
    OTHER = "OTHER"


class BodyCoverage(models.TextChoices):
    WHOLE_BODY = "whole-body", "Whole body"
    THIGHS = "thighs", "Thighs"
    LOWER_LIMBS = "lower-limbs", "Lower limbs"
    OTHER = "other", "Other"
