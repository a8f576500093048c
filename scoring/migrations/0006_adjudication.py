"""Adjudication of double reads: the cohort's threshold and the adjudication read's cells."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0005_grading_scales"),
    ]

    operations = [
        migrations.AddField(
            model_name="cohortprotocol",
            name="adjudication_min_difference",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="A double-read cell goes to adjudication when the two grades differ by at least this many steps, or one reader said NA and the other did not.",
            ),
        ),
        migrations.AddField(
            model_name="read",
            name="adjudication",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
