"""Each journal event's audience (the teams that may view its object), for the notifications page; the events
already in the journal get theirs in 0034."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('parcours', '0032_pathway_one_open_per_participant_again'),
        ('roles', '0003_organisation_statements_and_buyer_kind'),
        ('workflows', '0006_journal_indexes_once'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventAudience',
            fields=[
                ('pk', models.CompositePrimaryKey('organisation', 'role', 'occurred_at', 'event', blank=True, editable=False, primary_key=True, serialize=False)),
                ('role', models.CharField(choices=[('adviser', 'Conseiller·ère'), ('facilitator', 'Facilitateur·rice'), ('employer', 'Employeur'), ('auditor', 'Auditeur·rice'), ('dpo', 'Délégué·e à la protection des données'), ('admin', 'Administrateur·rice')], max_length=20, verbose_name='rôle')),
                ('occurred_at', models.DateTimeField(verbose_name='date')),
                ('event', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='audience', to='workflows.journalevent')),
                ('organisation', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, to='roles.organisation')),
            ],
            options={
                'verbose_name': "destinataire d'un événement",
                'verbose_name_plural': 'destinataires des événements',
            },
        ),
    ]
