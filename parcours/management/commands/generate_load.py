"""`python manage.py generate_load --pathways N`: a national-scale data set on PostgreSQL, for the benchmarks.

Written with COPY, a batch of pathways at a time, not through the services (one ORM save per row would take days
at a million pathways): organisations and users, a clause register, participants in every state with their
eligibility, referrals, placements, monthly hours, follow-ups, exits, the object grants of the policy, the work
layer's viewflow processes and tasks (the open ones matching the states), and the journal with valid keyed chains
(`verify_journal` passes on the result). One Mission Locale follows at least 10,000 young people: its advisers
are the heavy users of the benchmarks; the last one follows a hundredth of the others' share, its advisers the
light ones, and its partner is the last facilitation organisation, a small one with one lot. The data set goes on
top of an empty database (reference data apart).
"""

import datetime
import json
import random
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from parcours.dates import add_months
from parcours.models import EligibilityCriterion, EventAudience, Participant
from parcours.notifications import record_missing_audiences
from parcours.selectors import current_state, tally
from parcours.services import register
from parcours.text import fold, identity_key
from roles.actor import Actor
from roles.enums import OrganisationKind, Role
from roles.models import Membership, Organisation
from workflows import keys
from workflows.journal import canonical_event, canonical_inputs
from workflows.models import JournalEvent
from workflows.vocabulary import ContractType, FulfilmentMode, LegalLever, QualificationLevel, SizingMethod

FIRST = (
    "Inès Lucas Yanis Chloé Mamadou Emma Kévin Sarah Enzo Aïcha Théo Léa Rayan Manon Nathan Fatoumata Hugo "
    "Camille Bilal Jade Dylan Océane Mohamed Clara Axel Nour Maxime Anaïs Ibrahim Laura".split()
)
LAST = (
    "Benali Martin Haddad Lefèvre Diallo Rousseau Moreau Cohen Garcia Traoré Bernard Fontaine Mansouri Girard "
    "Petit Coulibaly Lambert Nguyen Cherif Morel Fernandes Dubois Kaci Mercier Robin Leroy Gauthier Sow".split()
)
# Final pathway states and their share of the data set.
STATES = [
    ("intake", 5),
    ("eligibility_pending", 5),
    ("eligible", 10),
    ("ineligible", 3),
    ("referred", 15),
    ("placed", 20),
    ("in_follow_up", 15),
    ("exited", 20),
    ("withdrawn", 4),
    ("lost_contact", 3),
]
SMALL_MISSION_LOCALE_WEIGHT = 0.01  # the last Mission Locale's share of the young people, against 1 for the others
OPEN_REFERRAL = [("sent", 30), ("under_review", 20), ("approved", 10), ("forwarded", 25), ("accepted", 15)]
CLOSED_REFERRAL = [("declined", 30), ("refused", 30), ("cancelled", 25), ("expired", 15)]
REFERRAL_PATH = ["sent", "under_review", "approved", "forwarded", "accepted", "hired"]
ACTION_TO = {
    "under_review": "start_review",
    "approved": "approve",
    "forwarded": "forward",
    "accepted": "accept",
    "hired": "hire",
}
CLOSING = {
    "declined": ("decline", "under_review"),
    "refused": ("refuse", "accepted"),
    "cancelled": ("cancel", "sent"),
    "expired": ("expire", "forwarded"),
}
REASONS = {
    "declined": "Le poste exige le permis B.",
    "refused": "Première expérience sur chantier demandée.",
    "cancelled": "Entrée en formation qualifiante.",
    "withdrawn": "Déménagement hors du territoire.",
    "lost_contact": "Plus de réponse depuis six semaines.",
    "ineligible": "Ne relève d'aucun public prioritaire.",
}
FLOW = "parcours/work.flows."
BATCH = 20_000


def _weighted(rng, table):
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


@dataclass
class Ids:
    """Explicit ids per table, so that rows can point at each other before they are written."""

    next: dict = field(default_factory=dict)

    def take(self, table):
        value = self.next.get(table, 1)
        self.next[table] = value + 1
        return value


class Journal:
    """Keyed chains written in the same format as workflows.journal.record_event."""

    def __init__(self):
        self.key_id = keys.current_key_id()
        self.seal = keys.sealer(self.key_id)
        self.heads = {}

    def event(
        self,
        rows,
        ids,
        *,
        at,
        actor,
        object_type,
        object_id,
        participant_id,
        action,
        frm="",
        to="",
        reason="",
        inputs=None,
    ):
        user, organisation, role = actor
        sequence, previous = self.heads.get((object_type, object_id), (0, ""))
        sequence += 1
        inputs = inputs or {}
        reason_digest = ""
        if reason:
            reason_digest = keys.seal_text(self.key_id, reason)
        canonical = canonical_event(
            occurred_at=at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
            actor_user=user,
            actor_organisation=organisation,
            actor_role=role,
            object_type=object_type,
            object_id=object_id,
            participant_id=participant_id,
            action=action,
            from_state=frm,
            to_state=to,
            reason_digest=reason_digest,
            inputs=canonical_inputs(inputs),
            sequence=sequence,
            previous_hash=previous,
            key_id=self.key_id,
        )
        digest = self.seal(canonical)
        event_id = ids.take("event")
        rows["workflows_journalevent"].append(
            (
                event_id,
                at,
                role,
                object_type,
                object_id,
                participant_id,
                action,
                frm,
                to,
                json.dumps(inputs, ensure_ascii=False),
                sequence,
                previous,
                digest,
                organisation,
                user,
                reason_digest,
                self.key_id,
            )
        )
        if reason:
            rows["workflows_journalreason"].append((event_id, reason, None))
        self.heads[(object_type, object_id)] = (sequence, digest)
        return event_id


COLUMNS = {
    "parcours_participant": "id, first_name, last_name, birth_date, email, phone, postcode, commune, is_qpv_resident, "
    "qualification_level, programme, imilo_reference, created_at, updated_at, referent_adviser_id, youth_agency_id, "
    "notice_given_on, sex, search_text, identity_key, homonym_confirmed",
    "parcours_pathway": "id, state, started_on, exited_on, closed_on, updated_at, facilitation_organisation_id, "
    "participant_id, referent_adviser_id",
    "parcours_eligibilityassessment": "id, derogation_reason, decision, valid_until, submitted_at, decided_at, "
    "decided_by_id, submitted_by_id, participant_id, pathway_id",
    "parcours_assessedcriterion": "id, proof_kind, proof_seen_on, proof_seen_by_id, assessment_id, criterion_id",
    "parcours_referral": "id, state, motivation, decision_reason, forwarded_at, decided_at, created_at, updated_at, "
    "offer_id, pathway_id, sent_by_id, participant_id",
    "parcours_placement": "id, state, fulfilment_mode, contract_type, start_date, planned_end_date, weekly_hours, "
    "started_on, ended_on, end_kind, end_reason, created_at, employer_id, lot_id, pathway_id, referral_id, "
    "participant_id",
    "parcours_hoursline": "id, state, month, hours, is_adjustment, declared_at, validated_at, rejection_reason, "
    "locked_at, declared_by_id, placement_id, lot_id",
    "parcours_followup": "id, kind, due_on, done_on, note, created_at, recorded_by_id, pathway_id, placement_id",
    "parcours_exit": "id, exited_on, category, situation, detail, outcome_situation, outcome_category, "
    "outcome_detail, created_at, recorded_by_id, pathway_id",
    "parcours_participantgroupobjectpermission": "id, content_object_id, group_id, permission_id",
    "parcours_referralgroupobjectpermission": "id, content_object_id, group_id, permission_id",
    "parcours_placementgroupobjectpermission": "id, content_object_id, group_id, permission_id",
    "viewflow_process": "id, flow_class, status, created, finished, data",
    "workflows_workprocess": "process_ptr_id, pathway_id, referral_id",
    "viewflow_task": "id, flow_task, flow_task_type, status, created, started, finished, token, owner_id, process_id, "
    "assigned, data, scheduled",
    "workflows_worktask": "task_id, status, owner_id, kind, role, due_at, outcome, closing_event_id, done_by_id, "
    "follow_up_id, organisation_id, pathway_id, referral_id",
    "workflows_journalevent": "id, occurred_at, actor_role, object_type, object_id, participant_id, action, "
    "from_state, to_state, inputs, sequence, previous_hash, hash, actor_organisation_id, actor_user_id, "
    "reason_digest, key_id",
    "workflows_journalreason": "event_id, text, erased_at",
}
SEQUENCES = {
    "parcours_participant": "participant",
    "parcours_pathway": "pathway",
    "parcours_eligibilityassessment": "assessment",
    "parcours_assessedcriterion": "criterion_row",
    "parcours_referral": "referral",
    "parcours_placement": "placement",
    "parcours_hoursline": "hoursline",
    "parcours_followup": "followup",
    "parcours_exit": "exit",
    "parcours_participantgroupobjectpermission": "pgrant",
    "parcours_referralgroupobjectpermission": "rgrant",
    "parcours_placementgroupobjectpermission": "plgrant",
    "viewflow_process": "process",
    "viewflow_task": "task",
    "workflows_journalevent": "event",
}


class Command(BaseCommand):
    help = "Generate a national-scale data set on PostgreSQL (COPY), with valid journal chains. For the benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--pathways", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=20261202)

    def handle(self, *args, pathways, seed, **options):
        if connection.vendor != "postgresql":
            raise CommandError("generate_load writes with COPY: it needs PostgreSQL (DATABASE_URL).")
        if Participant.objects.exists():
            raise CommandError("generate_load builds on an empty database (it found participants).")
        started = time.monotonic()
        self.rng = random.Random(seed)
        self.now = timezone.now().replace(microsecond=0)
        self.today = timezone.localdate()
        self.ids = Ids()
        self.identities = set()  # (Mission Locale, identity key) already generated
        self.journal = Journal()
        self.world(pathways)
        done = 0
        while done < pathways:
            size = min(BATCH, pathways - done)
            rows = {table: [] for table in COLUMNS}
            self.process_rows = {}
            for _ in range(size):
                self.story(rows)
            with transaction.atomic():
                self.copy(rows)
            done += size
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stderr.write(f"\r{done:,} / {pathways:,} parcours ({rate:,.0f}/s)", ending="")
        with connection.cursor() as cursor:
            for table, key in SEQUENCES.items():
                column = "process_ptr_id" if table == "workflows_workprocess" else "id"
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), %s, false)",
                    [max(self.ids.next.get(key, 1), 1)],
                )
        # COPY ran with the triggers off (session_replication_role = replica)
        tally.rebuild()
        current_state.rebuild()
        self.audiences()
        with connection.cursor() as cursor:
            # As autovacuum leaves a live database: the visibility map set (index-only scans read no table page) and
            # the statistics counted. Right after COPY every index-only scan read the table too.
            cursor.execute("VACUUM (ANALYZE)")
        self.stderr.write("")
        self.stdout.write(
            f"{pathways:,} parcours, {self.ids.next.get('event', 1) - 1:,} événements, "
            f"{self.ids.next.get('task', 1) - 1:,} tâches viewflow en {time.monotonic() - started:.0f} s."
        )

    def audiences(self):
        """The teams each event is shown to (the notifications page), set-based from the policy as migration 0034
        does, the table's key built once they are all written: inserted row by row into it, 74 million rows took
        ~20 minutes at 1,000,000 pathways."""
        self.stderr.write("\nDestinataires des événements…", ending="")
        table, key = EventAudience._meta.db_table, f"{EventAudience._meta.db_table}_pkey"
        columns = '"organisation_id", "role", "occurred_at", "event_id"'
        with connection.cursor() as cursor:
            cursor.execute(f'TRUNCATE "{table}"')  # the register's events too: written again below with the rest
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{key}"')
        record_missing_audiences()
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{key}" PRIMARY KEY ({columns})')

    # --- organisations, users, register ----------------------------------------------------------------------
    def world(self, n):
        User = get_user_model()
        password = make_password("demo")
        counts = {
            "ml": max(2, n // 5000),
            "fac": max(1, n // 40000),
            "employer": max(2, n // 2000),
            "buyer": max(2, n // 20000),
        }
        self.permissions = {
            code: Permission.objects.get(codename=code).pk
            for code in (
                "view_participant",
                "change_participant",
                "audit_participant",
                "view_referral",
                "view_placement",
            )
        }
        self.criteria = list(EligibilityCriterion.objects.filter(is_active=True).values_list("pk", "code"))

        def org(kind, name):
            return Organisation.objects.create(name=name, kind=kind)

        def member(organisation, role, username):
            user = User.objects.create(username=username, password=password, first_name=username.title())
            membership = Membership.objects.create(user=user, organisation=organisation, role=role)
            return Actor.from_membership(membership)

        with transaction.atomic():
            # One more facilitation organisation, the last: a small one, partner of the small Mission Locale only,
            # with one lot (the benchmarks time its lists in tables of millions).
            self.facs = [org(OrganisationKind.FACILITATION, f"PLIE {i + 1:03d}") for i in range(counts["fac"] + 1)]
            regular = self.facs[:-1]
            self.mls = [
                org(OrganisationKind.MISSION_LOCALE, f"Mission Locale {i + 1:03d}") for i in range(counts["ml"])
            ]
            self.employers = [
                org(OrganisationKind.EMPLOYER, f"Entreprise {i + 1:04d}") for i in range(counts["employer"])
            ]
            self.buyers = [org(OrganisationKind.AUTHORITY, f"Acheteur {i + 1:03d}") for i in range(counts["buyer"])]
            self.ml_fac = {}
            for i, ml in enumerate(self.mls):
                fac = self.facs[-1] if ml is self.mls[-1] else regular[i % len(regular)]
                fac.partners.add(ml)
                self.ml_fac[ml.pk] = fac
            self.advisers = {
                ml.pk: [member(ml, Role.ADVISER, f"conseil.{i + 1}.{k + 1}") for k in range(3)]
                for i, ml in enumerate(self.mls)
            }
            for i, ml in enumerate(self.mls):
                member(ml, Role.DPO, f"dpo.{i + 1}")
            self.facilitators = {
                f.pk: [member(f, Role.FACILITATOR, f"facil.{i + 1}.{k + 1}") for k in range(3)]
                for i, f in enumerate(self.facs)
            }
            self.employer_users = {
                e.pk: member(e, Role.EMPLOYER, f"employeur.{i + 1}") for i, e in enumerate(self.employers)
            }
            for i, b in enumerate(self.buyers):
                member(b, Role.AUDITOR, f"auditeur.{i + 1}")
            start, end = self.today - datetime.timedelta(days=900), self.today + datetime.timedelta(days=700)
            self.lots_of_fac = {f.pk: [] for f in self.facs}
            lots_count = max(4, n // 500)
            for index in range(lots_count):
                # every organisation's first lot, then the regular ones in turn
                fac = self.facs[index] if index < len(self.facs) else regular[index % len(regular)]
                facilitator = self.facilitators[fac.pk][0]
                if index < len(self.facs) or index % 20 == 0:
                    operation = register.operation_create(
                        actor=facilitator,
                        name=f"Opération {index + 1:05d}",
                        commune="Lyon",
                        starts_on=start,
                        ends_on=end,
                    )
                    contract = register.contract_create(
                        actor=facilitator,
                        operation=operation,
                        reference=f"M-{index + 1:05d}",
                        title="Travaux",
                        buyer=self.buyers[index % len(self.buyers)],
                        legal_lever=LegalLever.EXECUTION_CONDITION,
                    )
                    self.operations = getattr(self, "operations", {})
                    self.operations[fac.pk] = (operation, contract, 0)
                operation, contract, number = self.operations[fac.pk]
                self.operations[fac.pk] = (operation, contract, number + 1)
                lot = register.lot_create(
                    actor=facilitator,
                    contract=contract,
                    number=number + 1,
                    title=f"Lot {number + 1}",
                    trade="Bâtiment",
                    amount_excl_tax=1_000_000,
                    sizing_method=SizingMethod.FIXED,
                    target_hours=5000,
                    execution_starts_on=start,
                    execution_ends_on=end,
                    fulfilment_modes=[FulfilmentMode.DIRECT_HIRE, FulfilmentMode.STAFF_PROVISION_SIAE],
                    awardee=self.employers[index % len(self.employers)],
                )
                offers = [
                    register.offer_create(
                        actor=facilitator,
                        lot=lot,
                        title=title,
                        trade="Bâtiment",
                        contract_type=ContractType.CDD,
                        weekly_hours=35,
                        location="Lyon",
                        positions=1000,
                    )
                    for title in ("Aide-maçon·ne", "Peintre")
                ]
                self.lots_of_fac[fac.pk].append((lot, offers))
        self.groups = {o.pk: o.group_id for o in Organisation.objects.all()}
        self.audited = set()  # (participant, buyer group) granted already
        self.heavy = self.mls[0]  # follows at least 10,000 young people
        self.heavy_share = min(n, max(10_000, n // len(self.mls)))
        # Mission Locales differ in size: the last one gets a hundredth of the others' share (about 50 young people
        # at 1,000,000 pathways), so that the benchmarks time a small team's lists in tables of millions too.
        self.ml_weights = [1.0] * (len(self.mls) - 1) + [SMALL_MISSION_LOCALE_WEIGHT]
        # the journal chains of the register objects (created through the services) continue from their heads
        for object_type, object_id, sequence, digest in JournalEvent.objects.order_by("pk").values_list(
            "object_type", "object_id", "sequence", "hash"
        ):
            self.journal.heads[(object_type, object_id)] = (sequence, digest)
        with connection.cursor() as cursor:
            for table, key in SEQUENCES.items():
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
                self.ids.next[key] = cursor.fetchone()[0]
        self.ids.next["criterion_row"] = self.ids.next.pop("criterion_row", 1)
        self.participants_made = 0

    # --- one young person's story ------------------------------------------------------------------------------
    def story(self, rows):
        rng, ids, journal = self.rng, self.ids, self.journal
        self.participants_made += 1
        ml = self.heavy if self.participants_made <= self.heavy_share else rng.choices(self.mls, self.ml_weights)[0]
        adviser = rng.choice(self.advisers[ml.pk])
        fac = self.ml_fac[ml.pk]
        facilitator = rng.choice(self.facilitators[fac.pk])
        a_actor = (adviser.user.pk, ml.pk, Role.ADVISER.value)
        f_actor = (facilitator.user.pk, fac.pk, Role.FACILITATOR.value)
        state = _weighted(rng, STATES)
        intake_day = self.today - datetime.timedelta(days=rng.randint(20, 700))
        clock = [timezone.make_aware(datetime.datetime.combine(intake_day, datetime.time(9, rng.randint(0, 59))))]

        def at(days=0, hours=2):
            clock[0] = clock[0] + datetime.timedelta(days=days, hours=hours, minutes=rng.randint(0, 50))
            return min(clock[0], self.now)

        pid = ids.take("participant")
        birth = add_months(self.today, -12 * rng.randint(17, 25)) - datetime.timedelta(days=rng.randint(1, 330))
        created = at(0, 0)
        first_name, last_name = rng.choice(FIRST), rng.choice(LAST)
        key = identity_key(first_name, last_name, birth)
        homonym = (ml.pk, key) in self.identities  # same names, same day: two people, as an adviser would confirm
        self.identities.add((ml.pk, key))
        rows["parcours_participant"].append(
            (
                pid,
                first_name,
                last_name,
                birth,
                "",
                "",
                f"69{rng.randint(100, 999)}",
                "Lyon",
                rng.random() < 0.35,
                rng.choice(QualificationLevel.values),
                "cej",
                f"ML{ml.pk}-{pid:08d}",
                created,
                created,
                adviser.user.pk,
                ml.pk,
                intake_day,
                rng.choice("FM"),
                fold(f"{last_name} {first_name} ML{ml.pk}-{pid:08d}")[:250],
                key,
                homonym,
            )
        )
        journal.event(
            rows,
            ids,
            at=created,
            actor=a_actor,
            object_type="participant",
            object_id=pid,
            participant_id=pid,
            action="create",
            inputs={"fields": ["birth_date", "first_name", "last_name"]},
        )
        for permission in ("change_participant", "view_participant"):
            rows["parcours_participantgroupobjectpermission"].append(
                (ids.take("pgrant"), pid, self.groups[ml.pk], self.permissions[permission])
            )
        pathway_id = ids.take("pathway")
        pathway_state = "intake"
        journal.event(
            rows,
            ids,
            at=created,
            actor=a_actor,
            object_type="pathway",
            object_id=pathway_id,
            participant_id=pid,
            action="create",
            to="intake",
        )
        intake_process = self.process(rows, "IntakeFlow", pathway_id, None, created)

        def move(action, to, actor, reason="", inputs=None, when=None):
            nonlocal pathway_state
            journal.event(
                rows,
                ids,
                at=when or at(rng.randint(1, 6)),
                actor=actor,
                object_type="pathway",
                object_id=pathway_id,
                participant_id=pid,
                action=action,
                frm=pathway_state,
                to=to,
                reason=reason,
                inputs=inputs,
            )
            pathway_state = to

        closed_on = exited_on = None
        has_fac = state not in ("intake",)
        if state == "intake":
            self.task(
                rows,
                intake_process,
                "IntakeFlow.submit",
                "submit_eligibility",
                Role.ADVISER,
                ml.pk,
                pathway_id,
                None,
                created,
                open_=True,
            )
        else:
            rows["parcours_participantgroupobjectpermission"].append(
                (ids.take("pgrant"), pid, self.groups[fac.pk], self.permissions["view_participant"])
            )
            submitted = at(rng.randint(2, 6))
            assessment = ids.take("assessment")
            move(
                "submit_eligibility",
                "eligibility_pending",
                a_actor,
                when=submitted,
                inputs={
                    "assessment": assessment,
                    "criteria_count": 1,
                    "derogation": False,
                    "facilitation_organisation": fac.pk,
                },
            )
            self.task(
                rows,
                intake_process,
                "IntakeFlow.submit",
                "submit_eligibility",
                Role.ADVISER,
                ml.pk,
                pathway_id,
                None,
                created,
                done_at=submitted,
                done_by=adviser.user.pk,
            )
            decided = None
            decision = "pending"
            if state == "eligibility_pending":
                self.task(
                    rows,
                    intake_process,
                    "IntakeFlow.review",
                    "review_eligibility",
                    Role.FACILITATOR,
                    fac.pk,
                    pathway_id,
                    None,
                    submitted,
                    open_=True,
                )
            else:
                decided = at(rng.randint(2, 8))
                self.task(
                    rows,
                    intake_process,
                    "IntakeFlow.review",
                    "review_eligibility",
                    Role.FACILITATOR,
                    fac.pk,
                    pathway_id,
                    None,
                    submitted,
                    done_at=decided,
                    done_by=facilitator.user.pk,
                )
                if state == "ineligible":
                    decision = "rejected"
                    move("reject_eligibility", "ineligible", f_actor, reason=REASONS["ineligible"], when=decided)
                    closed_on = decided.date()
                else:
                    decision = "accepted"
                    move(
                        "validate_eligibility",
                        "eligible",
                        f_actor,
                        when=decided,
                        inputs={"valid_until": (self.today + datetime.timedelta(days=400)).isoformat()},
                    )
            criterion_pk, _ = rng.choice(self.criteria)
            rows["parcours_eligibilityassessment"].append(
                (
                    assessment,
                    "",
                    decision,
                    (self.today + datetime.timedelta(days=400)) if decision == "accepted" else None,
                    submitted,
                    decided,
                    facilitator.user.pk if decided else None,
                    adviser.user.pk,
                    pid,
                    pathway_id,
                )
            )
            rows["parcours_assessedcriterion"].append(
                (
                    ids.take("criterion_row"),
                    "attestation" if decided else "",
                    decided.date() if decided else None,
                    facilitator.user.pk if decided else None,
                    assessment,
                    criterion_pk,
                )
            )
        lots = self.lots_of_fac[fac.pk]
        if state in ("eligible", "referred", "placed", "in_follow_up", "exited", "withdrawn", "lost_contact"):
            if state == "eligible" and rng.random() < 0.3:
                self.referral(
                    rows, pid, pathway_id, lots, a_actor, f_actor, _weighted(rng, CLOSED_REFERRAL), at, move, ml, fac
                )
            if state == "referred":
                self.referral(
                    rows, pid, pathway_id, lots, a_actor, f_actor, _weighted(rng, OPEN_REFERRAL), at, move, ml, fac
                )
            if state in ("placed", "in_follow_up", "exited"):
                placement_end = self.referral(
                    rows, pid, pathway_id, lots, a_actor, f_actor, "hired", at, move, ml, fac, pathway_final=state
                )
                if state == "exited":
                    exited_on = placement_end + datetime.timedelta(days=rng.randint(5, 40))
                    exited_on = min(exited_on, self.today)
                    when = timezone.make_aware(datetime.datetime.combine(exited_on, datetime.time(15)))
                    move(
                        "exit",
                        "exited",
                        a_actor,
                        when=min(when, self.now),
                        inputs={"category": "durable_employment", "exited_on": exited_on.isoformat()},
                    )
                    rows["parcours_exit"].append(
                        (ids.take("exit"), exited_on, "durable_employment", "cdi", "", "", "", "", when)
                        + (adviser.user.pk, pathway_id)
                    )
            if state in ("withdrawn", "lost_contact"):
                action = "withdraw" if state == "withdrawn" else "mark_lost_contact"
                when = at(rng.randint(10, 60))
                move(action, state, a_actor, reason=REASONS[state], when=when)
                closed_on = when.date()
        assert pathway_state == state or state in ("intake",), (pathway_state, state)
        rows["parcours_pathway"].append(
            (
                pathway_id,
                state,
                intake_day,
                exited_on,
                closed_on,
                clock[0],
                fac.pk if has_fac else None,
                pid,
                adviser.user.pk,
            )
        )

    def referral(self, rows, pid, pathway_id, lots, a_actor, f_actor, final, at, move, ml, fac, pathway_final=None):
        """One referral of the pathway reaching `final` (an open, closed or hired state); returns a placement end."""
        rng, ids, journal = self.rng, self.ids, self.journal
        lot, offers = rng.choice(lots)
        offer = rng.choice(offers)
        employer_pk = lot.awardee_id
        employer_user = self.employer_users[employer_pk].user.pk
        e_actor = (employer_user, employer_pk, Role.EMPLOYER.value)
        rid = ids.take("referral")
        created = at(rng.randint(3, 10))
        journal.event(
            rows,
            ids,
            at=created,
            actor=a_actor,
            object_type="referral",
            object_id=rid,
            participant_id=pid,
            action="create",
            to="sent",
            inputs={"offer": offer.pk, "pathway": pathway_id},
        )
        buyer_group = self.groups[lot.contract.buyer_id]
        if (pid, buyer_group) not in self.audited:  # the buyer's auditors follow the participant (referral_create)
            self.audited.add((pid, buyer_group))
            rows["parcours_participantgroupobjectpermission"].append(
                (ids.take("pgrant"), pid, buyer_group, self.permissions["audit_participant"])
            )
        process = self.process(rows, "PlacementFlow", pathway_id, rid, created)
        move("refer", "referred", a_actor, when=created, inputs={"referral": rid})
        target = final if final in REFERRAL_PATH else CLOSING[final][1]
        state, forwarded_at, decided_at, reason = "sent", None, None, ""
        review_done = None
        steps = REFERRAL_PATH[1 : REFERRAL_PATH.index(target) + 1]
        for step in steps:
            actor = f_actor if step in ("under_review", "approved", "forwarded") else e_actor
            when = at(rng.randint(1, 4))
            inputs = None
            if step == "hired":
                start_date = when.date() + datetime.timedelta(days=7)
                inputs = {
                    "contract_type": "cdd",
                    "fulfilment_mode": "direct_hire",
                    "start_date": start_date.isoformat(),
                    "weekly_hours": 35,
                }
            journal.event(
                rows,
                ids,
                at=when,
                actor=actor,
                object_type="referral",
                object_id=rid,
                participant_id=pid,
                action=ACTION_TO[step],
                frm=state,
                to=step,
                inputs=inputs,
            )
            state = step
            if step == "forwarded":
                forwarded_at, review_done = when, when
                rows["parcours_referralgroupobjectpermission"].append(
                    (ids.take("rgrant"), rid, self.groups[employer_pk], self.permissions["view_referral"])
                )
        # the work layer: review (facilitator), answer and confirm (employer), open or done
        fac_user = f_actor[0]
        if state in ("sent", "under_review", "approved"):
            self.task(
                rows,
                process,
                "PlacementFlow.review",
                "review_referral",
                Role.FACILITATOR,
                fac.pk,
                pathway_id,
                rid,
                created,
                open_=final in REFERRAL_PATH,
                timers=True,
            )
        else:
            self.task(
                rows,
                process,
                "PlacementFlow.review",
                "review_referral",
                Role.FACILITATOR,
                fac.pk,
                pathway_id,
                rid,
                created,
                done_at=review_done,
                done_by=fac_user,
            )
            if state == "forwarded":
                self.task(
                    rows,
                    process,
                    "PlacementFlow.answer",
                    "answer_referral",
                    Role.EMPLOYER,
                    employer_pk,
                    pathway_id,
                    rid,
                    review_done,
                    open_=final in REFERRAL_PATH,
                    timers=True,
                )
            elif state in ("accepted", "hired"):
                self.task(
                    rows,
                    process,
                    "PlacementFlow.answer",
                    "answer_referral",
                    Role.EMPLOYER,
                    employer_pk,
                    pathway_id,
                    rid,
                    review_done,
                    done_at=review_done,
                    done_by=employer_user,
                )
                self.task(
                    rows,
                    process,
                    "PlacementFlow.confirm_hire",
                    "confirm_hire",
                    Role.EMPLOYER,
                    employer_pk,
                    pathway_id,
                    rid,
                    review_done,
                    open_=state == "accepted" and final in REFERRAL_PATH,
                    done_at=None if state == "accepted" else clock_of(at),
                    done_by=employer_user,
                    timers=True,
                )
        if final not in REFERRAL_PATH:  # closed by its closing transition
            action, _ = CLOSING[final]
            actor = {"decline": f_actor, "refuse": e_actor, "cancel": a_actor, "expire": (None, None, "system")}[
                action
            ]
            when = at(rng.randint(2, 8))
            reason = REASONS.get(final, "")
            journal.event(
                rows,
                ids,
                at=when,
                actor=actor,
                object_type="referral",
                object_id=rid,
                participant_id=pid,
                action=action,
                frm=state,
                to=final,
                reason=reason,
            )
            if forwarded_at is not None:
                rows["parcours_referralgroupobjectpermission"].pop()  # the employer's grant is revoked with it
            state, decided_at = final, when
            move("return_to_eligible", "eligible", actor, when=when, inputs={"referral": rid})
            self.finish(rows, process, when)
        rows["parcours_referral"].append(
            (
                rid,
                state,
                "Motivé·e par les métiers du bâtiment.",
                reason if state in ("declined", "refused", "cancelled") else "",
                forwarded_at,
                decided_at if state != "hired" else None,
                created,
                clock_of(at),
                offer.pk,
                pathway_id,
                a_actor[0],
                pid,
            )
        )
        if state != "hired":
            return None
        return self.placement(
            rows, pid, pathway_id, rid, lot, employer_pk, e_actor, a_actor, at, move, pathway_final, ml, process
        )

    def placement(self, rows, pid, pathway_id, rid, lot, employer_pk, e_actor, a_actor, at, move, final, ml, process):
        rng, ids, journal = self.rng, self.ids, self.journal
        hired = clock_of(at)
        start = hired.date() + datetime.timedelta(days=7)
        plid = ids.take("placement")
        journal.event(
            rows,
            ids,
            at=hired,
            actor=e_actor,
            object_type="placement",
            object_id=plid,
            participant_id=pid,
            action="create",
            to="planned",
            inputs={"referral": rid, "start_date": start.isoformat()},
        )
        move("place", "placed", e_actor, when=hired, inputs={"placement": plid})
        rows["parcours_placementgroupobjectpermission"].append(
            (ids.take("plgrant"), plid, self.groups[employer_pk], self.permissions["view_placement"])
        )
        started = min(timezone.make_aware(datetime.datetime.combine(start, datetime.time(8))), self.now)
        journal.event(
            rows,
            ids,
            at=started,
            actor=e_actor,
            object_type="placement",
            object_id=plid,
            participant_id=pid,
            action="start",
            frm="planned",
            to="active",
        )
        ended = None
        length = rng.randint(60, 240)
        if final in ("in_follow_up", "exited"):
            ended = min(start + datetime.timedelta(days=length), self.today - datetime.timedelta(days=45))
            ended = max(ended, start + datetime.timedelta(days=20))
            ended_at = min(timezone.make_aware(datetime.datetime.combine(ended, datetime.time(17))), self.now)
        month = start.replace(day=1)
        last = (ended or self.today).replace(day=1)
        while month < last:
            hid = ids.take("hoursline")
            declared = min(
                timezone.make_aware(datetime.datetime.combine(add_months(month, 1), datetime.time(10))), self.now
            )
            old = add_months(month, 2) < self.today
            line_state = "locked" if old else "validated" if rng.random() < 0.5 else "declared"
            journal.event(
                rows,
                ids,
                at=declared,
                actor=e_actor,
                object_type="hoursline",
                object_id=hid,
                participant_id=pid,
                action="create",
                to="declared",
                inputs={"hours": "140.00", "month": month.isoformat(), "placement": plid},
            )
            validated = locked = None
            if line_state in ("validated", "locked"):
                validated = min(declared + datetime.timedelta(days=3), self.now)
                journal.event(
                    rows,
                    ids,
                    at=validated,
                    actor=(None, None, "system"),
                    object_type="hoursline",
                    object_id=hid,
                    participant_id=pid,
                    action="validate",
                    frm="declared",
                    to="validated",
                )
            if line_state == "locked":
                locked = min(declared + datetime.timedelta(days=20), self.now)
                journal.event(
                    rows,
                    ids,
                    at=locked,
                    actor=(None, None, "system"),
                    object_type="hoursline",
                    object_id=hid,
                    participant_id=pid,
                    action="lock",
                    frm="validated",
                    to="locked",
                )
            rows["parcours_hoursline"].append(
                (hid, line_state, month, "140.00", False, declared, validated, "", locked, e_actor[0], plid, lot.pk)
            )
            month = add_months(month, 1)
        for months in (1, 3, 6):
            due = add_months(start, months)
            done = due if (ended is None and due < self.today) or (ended and due <= ended) else None
            rows["parcours_followup"].append(
                (
                    ids.take("followup"),
                    "check",
                    due,
                    done,
                    "",
                    hired,
                    a_actor[0] if done else None,
                    pathway_id,
                    plid,
                )
            )
        state = "active"
        if ended is not None:
            journal.event(
                rows,
                ids,
                at=ended_at,
                actor=e_actor,
                object_type="placement",
                object_id=plid,
                participant_id=pid,
                action="end",
                frm="active",
                to="ended",
                inputs={"end_date": ended.isoformat(), "end_kind": "normal"},
            )
            move("start_follow_up", "in_follow_up", e_actor, when=ended_at, inputs={"placement": plid})
            state = "ended"
            if final == "in_follow_up":
                self.task(
                    rows,
                    process,
                    "PlacementFlow.record_exit",
                    "record_exit",
                    Role.ADVISER,
                    ml.pk,
                    pathway_id,
                    rid,
                    ended_at,
                    open_=True,
                )
            else:
                self.finish(rows, process, ended_at)
        rows["parcours_placement"].append(
            (
                plid,
                state,
                "direct_hire",
                "cdd",
                start,
                start + datetime.timedelta(days=length),
                35,
                start,
                ended,
                "normal" if ended else "",
                "",
                hired,
                employer_pk,
                lot.pk,
                pathway_id,
                rid,
                pid,
            )
        )
        return ended or self.today

    # --- the work layer's rows -----------------------------------------------------------------------------------
    def process(self, rows, flow, pathway_id, referral_id, created):
        pid = self.ids.take("process")
        self.process_rows[pid] = len(rows["viewflow_process"])
        rows["viewflow_process"].append((pid, FLOW + flow, "NEW", created, None, "{}"))
        rows["workflows_workprocess"].append((pid, pathway_id, referral_id))
        return pid

    def finish(self, rows, process, when):
        index = self.process_rows[process]
        row = rows["viewflow_process"][index]
        rows["viewflow_process"][index] = (*row[:2], "DONE", row[3], when, row[5])

    def task(
        self,
        rows,
        process,
        node,
        kind,
        role,
        organisation,
        pathway_id,
        referral_id,
        created,
        *,
        open_=False,
        done_at=None,
        done_by=None,
        timers=False,
    ):
        tid = self.ids.take("task")
        status = "NEW" if open_ else "DONE"
        finished = None if open_ else (done_at or created)
        rows["viewflow_task"].append(
            (
                tid,
                FLOW + node,
                "HUMAN",
                status,
                created,
                None if open_ else finished,
                finished,
                "start",
                None if open_ else done_by,
                process,
                None,
                "{}",
                None,
            )
        )
        due = created + datetime.timedelta(days=7)
        rows["workflows_worktask"].append(
            (
                tid,
                status,
                None if open_ else done_by,
                kind,
                role.value,
                due,
                "" if open_ else f"{kind}.done",
                None,
                None if open_ else done_by,
                None,
                organisation,
                pathway_id,
                referral_id,
            )
        )
        if timers:
            for delay in (7, 30):
                rows["viewflow_task"].append(
                    (
                        self.ids.take("task"),
                        FLOW + node + ("_reminder" if delay == 7 else "_expiry"),
                        "TIMER",
                        "SCHEDULED" if open_ else "CANCELED",
                        created,
                        None,
                        None if open_ else finished,
                        "start",
                        None,
                        process,
                        None,
                        "{}",
                        max(created + datetime.timedelta(days=delay), self.now + datetime.timedelta(days=delay)),
                    )
                )
        return tid

    def copy(self, rows):
        with connection.cursor() as cursor:
            # The rows are consistent by construction: skip the per-row foreign-key triggers while loading (the
            # benchmark cluster's superuser may; otherwise they run as usual).
            try:
                with transaction.atomic():
                    cursor.execute("SET LOCAL session_replication_role = replica")
            except Exception:  # not a superuser: the checks run
                pass
            raw = cursor.cursor
            for table, columns in COLUMNS.items():
                batch = rows[table]
                if not batch:
                    continue
                with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)


def clock_of(at):
    return at(0, 0)
