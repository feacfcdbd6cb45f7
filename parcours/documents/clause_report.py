"""The clause report (bilan de la clause) of a lot, an operation or a contract: XLSX and PDF. Target, hours counted
by mode and by month, participants as pseudonyms, contracts and exits, shortfall and the penalty the contract's rule
proposes, a signature block. The buyer reads its own through its auditors' accounts, without each person's publics
nor the hours by public; the facilitator's copy, its working document, has both (health publics included): it is not
the one to send. Figures come from parcours.selectors.reports (no query here)."""

from decimal import Decimal

from reportlab.lib.units import mm

from parcours.counting import hours_label, percent_label
from parcours.dates import month_label
from parcours.documents import pdf, xlsx
from workflows.vocabulary import FulfilmentMode


def _mode(mode) -> str:
    try:
        return FulfilmentMode(mode).label
    except ValueError:
        return str(mode)


def _euros(value) -> str:
    whole, cents = f"{value:.2f}".split(".")
    groups = f"{int(whole):,}".replace(",", "\u00a0")
    return f"{groups},{cents}\u00a0€"


PENALTY = "Pénalité proposée (heures manquantes × taux du marché)"


def _shortfall_label(report) -> str:
    """Missing once the execution is over; before, still to realise (not yet a shortfall)."""
    return "Heures manquantes" if report.ended else "Heures restant à réaliser"


def _penalty_text(report) -> str:
    penalty, note = report.proposed_penalty, report.penalty_note
    if penalty is None:
        return note
    return f"{_euros(penalty)} ({note})" if note else _euros(penalty)


def _subject(report) -> tuple:
    """(title, subtitle, facts about what the report covers) for a lot, a contract or an operation."""
    kind = getattr(report, "kind", "lot")
    if kind == "lot":
        l = report.lot  # noqa: E741
        return (
            f"lot {l.number}, marché {l.contract.reference}",
            f"{l.contract.operation.name} — marché {l.contract.reference}, lot {l.number} ({l.title})",
            [
                ("Opération", l.contract.operation.name),
                ("Marché", f"{l.contract.reference} — {l.contract.title}"),
                ("Acheteur", str(l.contract.buyer)),
                ("Lot", f"{l.number} — {l.title}"),
                ("Attributaire", str(l.awardee or "—")),
                ("Période d'exécution", f"{l.execution_starts_on:%d/%m/%Y} – {l.execution_ends_on:%d/%m/%Y}"),
            ],
        )
    lots = [f.lot for f in report.lots]
    lot_names = "\n".join(f"{x.contract.reference} — lot {x.number} ({x.title}), {x.awardee or '—'}" for x in lots)
    if kind == "contract":
        c = report.subject
        return (
            f"marché {c.reference}",
            f"{c.operation.name} — marché {c.reference} ({c.title})",
            [
                ("Opération", c.operation.name),
                ("Marché", f"{c.reference} — {c.title}"),
                ("Acheteur", str(c.buyer)),
                ("Lots", lot_names),
            ],
        )
    o = report.subject
    buyers = sorted({str(x.contract.buyer) for x in lots})
    return (
        f"opération {o.name}",
        f"{o.name} — {o.commune}",
        [("Opération", f"{o.name} ({o.commune})"), ("Acheteurs", ", ".join(buyers)), ("Lots", lot_names)],
    )


def summary(report) -> list:
    """(label, value) pairs of the report's first section."""
    return _subject(report)[2] + [
        ("Objectif d'heures d'insertion", hours_label(report.target)),
        ("Heures validées", hours_label(report.declared)),
        ("Heures comptées pour la clause", hours_label(report.counted)),
        ("Taux de réalisation", percent_label(report.realised_percent)),
        ("Part du délai d'exécution écoulée", percent_label(report.elapsed_percent)),
        (_shortfall_label(report), hours_label(report.shortfall)),
        (PENALTY, _penalty_text(report)),
        ("Règles de comptage", report.rules),
    ]


def summary_cells(report) -> list:
    """The same section for a spreadsheet: (label, value, unit), each figure a number a buyer can add up (the
    hours, the rates as percentages, the penalty in euros), its unit beside it."""
    penalty = report.proposed_penalty
    return [(label, value, "") for label, value in _subject(report)[2]] + [
        ("Objectif d'heures d'insertion", report.target, "h"),
        ("Heures validées", report.declared, "h"),
        ("Heures comptées pour la clause", report.counted, "h"),
        ("Taux de réalisation", report.realised_percent, "%"),
        ("Part du délai d'exécution écoulée", report.elapsed_percent, "%"),
        (_shortfall_label(report), report.shortfall, "h"),
        (
            f"{PENALTY} — {report.penalty_note}" if penalty is not None and report.penalty_note else PENALTY,
            penalty if penalty is not None else report.penalty_note,
            "€" if penalty is not None else "",
        ),
        ("Règles de comptage", report.rules, ""),
    ]


def clause_report_xlsx(lot, figures) -> bytes:
    publics = dict(figures.publics)
    return xlsx.workbook(
        [
            ("Synthèse", ["Rubrique", "Valeur", "Unité"], summary_cells(lot)),
            (
                "Par mois",
                ["Mois", "Heures comptées"],
                [(month_label(month, language="fr"), value) for month, value in sorted(lot.by_month.items())],
            ),
            ("Par modalité", ["Modalité", "Heures comptées"], [(_mode(m), v) for m, v in lot.by_mode.items()]),
            (
                "Par public",
                _public_columns(figures, ["Public", "Participant·es", "Heures comptées"]),
                [
                    _public_columns(
                        figures,
                        (label, lot.participants_by_public.get(key, 0), lot.by_public.get(key, Decimal("0"))),
                    )
                    for key, label in publics.items()
                ],
            ),
            (
                "Participant·es",
                _person_columns(
                    figures,
                    [
                        "Pseudonyme",
                        "Publics",
                        "Contrat",
                        "Modalité",
                        "Début",
                        "Fin",
                        "Heures validées",
                        "Heures comptées",
                        "Sortie",
                        "Remarques de comptage",
                    ],
                ),
                [
                    _person_columns(
                        figures,
                        (
                            p.pseudonym,
                            ", ".join(p.publics),
                            p.contract_type,
                            p.mode,
                            p.start_date,
                            p.end_date,
                            p.declared,
                            p.counted,
                            p.exit_label,
                            " ; ".join(p.remarks),
                        ),
                    )
                    for p in lot.participants
                ],
            ),
        ]
    )


def _public_columns(figures, row) -> tuple:
    """A public's row without its hours for a reader who may not see who is in it: beside the participant rows'
    hours, a public's hours would tell its members (`Figures.person_publics`)."""
    row = tuple(row)
    return row if figures.person_publics else row[:2]


def _person_columns(figures, row) -> tuple:
    """A participant row without its second column, the person's publics, for a reader who may not see them
    (`Figures.person_publics`: a buyer's auditor)."""
    row = tuple(row)
    return row if figures.person_publics else row[:1] + row[2:]


def clause_report_pdf(lot, figures, out):
    s = pdf.styles()
    name, subtitle, _ = _subject(lot)
    story = [
        pdf.para("Bilan de la clause sociale d'insertion", s["title"]),
        pdf.para(subtitle, s["subtitle"]),
        pdf.facts(summary(lot)),
        pdf.para("Heures comptées par mois", s["h2"]),
        pdf.table(
            ["Mois", "Heures comptées"],
            [(month_label(m, language="fr"), hours_label(v)) for m, v in sorted(lot.by_month.items())] or [("—", "—")],
            [85 * mm, 85 * mm],
        ),
        pdf.para("Heures comptées par modalité", s["h2"]),
        pdf.table(
            ["Modalité", "Heures comptées"],
            [(_mode(m), hours_label(v)) for m, v in lot.by_mode.items()] or [("—", "—")],
            [85 * mm, 85 * mm],
        ),
        pdf.para("Participant·es par public", s["h2"]),
        pdf.table(
            _public_columns(figures, ["Public", "Participant·es", "Heures comptées"]),
            [
                _public_columns(
                    figures,
                    (label, str(lot.participants_by_public.get(key, 0)), hours_label(lot.by_public.get(key, 0))),
                )
                for key, label in figures.publics
            ],
            [90 * mm, 35 * mm, 45 * mm] if figures.person_publics else [120 * mm, 50 * mm],
        ),
        pdf.para("Participant·es (pseudonymes)", s["h2"]),
        pdf.table(
            _person_columns(figures, ["Pseudonyme", "Publics", "Contrat", "Début – fin", "Heures comptées", "Sortie"]),
            [
                _person_columns(
                    figures,
                    (
                        p.pseudonym,
                        ", ".join(p.publics) or "—",
                        f"{p.contract_type} ({p.mode})",
                        f"{p.start_date:%d/%m/%Y} – {p.end_date:%d/%m/%Y}"
                        if p.end_date
                        else f"{p.start_date:%d/%m/%Y} –"
                        if p.started
                        else f"prévu le {p.start_date:%d/%m/%Y}",
                        hours_label(p.counted),
                        p.exit_label or "—",
                    ),
                )
                for p in lot.participants
            ]
            or [_person_columns(figures, ("—", "", "", "", "", ""))],
            # « Pseudonyme » on one line; without the publics, the contract and the exit take their width.
            _person_columns(figures, [25 * mm, 37 * mm, 36 * mm, 30 * mm, 20 * mm, 22 * mm])
            if figures.person_publics
            else [25 * mm, 55 * mm, 30 * mm, 22 * mm, 38 * mm],
        ),
        pdf.spacer(8),
        pdf.para("Pour la structure porteuse de la clause", s["h2"]),
        pdf.facts([("Nom, fonction", ""), ("Date", ""), ("Signature", "\n\n")]),
    ]
    out.write(
        pdf.render(
            story,
            title=f"Bilan de la clause — {name}",
            footer=f"Parcours — chiffres produits par : {lot.rules}",
        )
    )


# --- Yearly consolidation ------------------------------------------------------------------------------------------
def consolidation_sheets(data) -> list:
    return [
        ("Synthèse", ["Rubrique", "Valeur"], data.summary),
        ("Acheteurs par type", ["Type d'acheteur", "Marchés", "Lots", "Heures comptées"], data.buyers),
        (
            "Opérations",
            ["Opération", "Commune", "ANRU", "Marchés", "Lots", "Objectif (heures)", "Heures comptées dans l'année"],
            data.operations,
        ),
        ("Publics", ["Public", "Participant·es en contrat dans l'année"], data.publics),
        ("Contrats par type", ["Type de contrat", "Contrats commencés dans l'année"], data.contract_types),
        ("Sorties", ["Famille de sortie", "Sorties dans l'année"], data.exits),
    ]


def consolidation_xlsx(data) -> bytes:
    return xlsx.workbook(consolidation_sheets(data))


def consolidation_csv_rows(data):
    """One flat table (section; label; values…) for the CSV export."""
    for title, header, rows in consolidation_sheets(data):
        yield [title, *header]
        for row in rows:
            yield [title, *row]


# --- The insertion committee pack ----------------------------------------------------------------------------------
def _open(offer) -> str:
    return "ouverte" if offer.is_open else "clôturée"


def committee_pack_pdf(pack, *, today) -> bytes:
    s = pdf.styles()
    o, hours = pack.operation, pack.hours
    story = [
        pdf.para("Commission d'insertion", s["title"]),
        pdf.para(f"{o.name} — {o.commune} · dossier du {today:%d/%m/%Y}", s["subtitle"]),
        pdf.facts(
            [
                ("Objectif d'heures (lots de l'opération)", hours_label(hours.target)),
                ("Heures comptées à ce jour", hours_label(hours.counted)),
                ("Taux de réalisation", percent_label(hours.realised_percent)),
                ("Offres", str(len(pack.offers))),
                ("Mises en poste", str(pack.hires)),
            ]
        ),
    ]
    for offer, counts, candidates in pack.offers:
        story += [
            pdf.para(f"Offre : {offer.title} ({offer.positions} poste(s), {_open(offer)})", s["h2"]),
            pdf.para(" · ".join(f"{label} : {n}" for label, n in sorted(counts.items())), s["body"]),
            pdf.table(
                ["Candidat·e", "Décision / état", "Mis à jour le"],
                [(name, label, f"{updated:%d/%m/%Y}") for name, label, updated in candidates],
                [70 * mm, 60 * mm, 40 * mm],
            ),
        ]
    story += [
        pdf.para("Mises en poste", s["h2"]),
        pdf.table(
            ["Salarié·e", "Poste", "Employeur", "Contrat", "Début", "État", "Heures comptées"],
            [
                (name, title, employer, contract, f"{start:%d/%m/%Y}", state, hours_label(counted))
                for name, title, employer, contract, start, state, counted in pack.placements
            ]
            or [("—", "", "", "", "", "", "")],
            [30 * mm, 28 * mm, 28 * mm, 22 * mm, 20 * mm, 20 * mm, 22 * mm],
        ),
        pdf.spacer(6),
        pdf.para("Document nominatif réservé aux membres de la commission d'insertion.", s["small"]),
    ]
    return pdf.render(story, title=f"Commission d'insertion — {o.name}", footer=f"Parcours — {hours.rules}")
