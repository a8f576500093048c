"""Ship the default whole-body IIM atlas and its two protocols (whole body, thigh only).

Their grading scale (the paper's 0–2) is the default of the fields 0005 adds; the free-text
scale this migration once stored went with them. Tests re-run `load_atlas` with the current
models after a flush, so it names no field a later migration removed."""

from django.db import migrations

from scoring.atlas_data import GROUPS, REGIONS, THIGH_GROUPS

FINDINGS = ["fasciitis", "vascular-engorgement", "undulating-fascia", "asymmetry"]


def load_atlas(apps, schema_editor):
    Region = apps.get_model("scoring", "Region")
    FunctionalGroup = apps.get_model("scoring", "FunctionalGroup")
    Muscle = apps.get_model("scoring", "Muscle")
    ScoringProtocol = apps.get_model("scoring", "ScoringProtocol")

    regions = {}
    for order, (slug, name, limb) in enumerate(REGIONS):
        regions[slug], _ = Region.objects.update_or_create(
            slug=slug, defaults={"name": name, "limb": limb, "order": order}
        )
    muscles_by_group = {}
    for group_order, (region, group_slug, group_name, muscles) in enumerate(GROUPS):
        group, _ = FunctionalGroup.objects.update_or_create(
            slug=group_slug,
            defaults={"name": group_name, "region": regions[region], "order": group_order},
        )
        muscles_by_group[group_slug] = [
            Muscle.objects.update_or_create(
                slug=slug, defaults={"name": name, "group": group, "order": order, "paired": True}
            )[0]
            for order, (slug, name) in enumerate(muscles)
        ]

    whole_body, _ = ScoringProtocol.objects.update_or_create(
        slug="whole-body-iim",
        defaults={
            "name": "Whole-body IIM",
            "version": "1",
            "description": "Every muscle of the default atlas, STIR and T1, graded 0–2 per side; "
            "unified grade = max(STIR, T1), sides averaged (the seed paper's method).",
            "sequences": ["STIR", "T1"],
            "region_findings": FINDINGS,
        },
    )
    whole_body.muscles.set([m for group in muscles_by_group.values() for m in group])
    thigh, _ = ScoringProtocol.objects.update_or_create(
        slug="thigh-only",
        defaults={
            "name": "Thigh only",
            "version": "1",
            "description": "Ventral, medial and dorsal thigh: the pragmatic, cheaper protocol the "
            "paper suggests.",
            "sequences": ["STIR", "T1"],
            "region_findings": FINDINGS,
        },
    )
    thigh.muscles.set([m for g in THIGH_GROUPS for m in muscles_by_group[g]])


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_initial")]

    operations = [migrations.RunPython(load_atlas, migrations.RunPython.noop)]
