"""A facilitator's referrals counted by state from one index (offer, state); it replaces the offer's own index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0018_participant_audit_grant"),
    ]

    operations = [
        # The new index first: the offer's lookups always have one.
        migrations.AddIndex(
            model_name="referral",
            index=models.Index(fields=["offer", "state"], name="referral_offer_state_idx"),
        ),
        migrations.AlterField(
            model_name="referral",
            name="offer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="referrals",
                to="parcours.joboffer",
            ),
        ),
    ]
