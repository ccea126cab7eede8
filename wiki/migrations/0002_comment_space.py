"""Comment.space: the space of the page commented on, stored on the comment.

The export's comments file carries each comment's space key; reading it through the page meant a
random read into the (large) content table per comment. Added nullable, filled from the pages in
one statement, then made required.
"""

import django.db.models.deletion
from django.db import migrations, models

FILL = "UPDATE wiki_comment SET space_id = (SELECT space_id FROM wiki_content WHERE wiki_content.id = wiki_comment.content_id)"


class Migration(migrations.Migration):
    dependencies = [
        ("wiki", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="comment",
            name="space",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="wiki.space",
            ),
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="comment",
            name="space",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="wiki.space",
            ),
        ),
    ]
