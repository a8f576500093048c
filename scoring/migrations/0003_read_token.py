"""Reads get a random token: the reader's URLs name it instead of the sequential id."""

import secrets

from django.db import migrations, models

import scoring.models


def fill_tokens(apps, schema_editor):
    Read = apps.get_model("scoring", "Read")
    for read in Read.objects.filter(token__isnull=True).only("pk").iterator():
        Read.objects.filter(pk=read.pk).update(token=secrets.token_urlsafe(16))


class Migration(migrations.Migration):
    dependencies = [("scoring", "0002_default_atlas")]

    operations = [
        migrations.AddField(
            model_name="read",
            name="token",
            field=models.CharField(max_length=32, null=True, editable=False),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="read",
            name="token",
            field=models.CharField(
                default=scoring.models.new_read_token, editable=False, max_length=32, unique=True
            ),
        ),
    ]
