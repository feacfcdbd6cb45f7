"""A facilitator's referrals to review, latest first, from an index holding only those (a partial index)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0021_placement_lot_id_idx"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="referral",
            index=models.Index(
                condition=models.Q(("state__in", ["sent", "under_review", "approved"])),
                fields=["-updated_at", "-id"],
                name="referral_review_recent_idx",
            ),
        ),
    ]
