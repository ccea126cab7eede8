"""Triggers that record every change and deletion of the exported rows for incremental exports
(``wiki.datasets.CHANGE_TRIGGERS`` through ``datapipeline.changes``), on PostgreSQL and SQLite."""

from django.db import migrations


def install(apps, schema_editor):
    from datapipeline.changes import install_triggers
    from wiki.datasets import CHANGE_TRIGGERS

    install_triggers(schema_editor, CHANGE_TRIGGERS)


def remove(apps, schema_editor):
    from datapipeline.changes import remove_triggers
    from wiki.datasets import CHANGE_TRIGGERS

    remove_triggers(schema_editor, CHANGE_TRIGGERS)


class Migration(migrations.Migration):
    dependencies = [
        ("wiki", "0002_comment_space"),
        ("datapipeline", "0003_changelog"),
    ]

    operations = [migrations.RunPython(install, remove)]
