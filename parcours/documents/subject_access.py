"""The subject-access document (droit d'accès) of one participant, as a readable PDF: the same sections as the
JSON export (parcours.selectors.data_protection.subject_access_data)."""

from reportlab.lib.units import mm

from parcours.documents import pdf

IDENTITY_LABELS = {
    "prenom": "Prénom",
    "nom": "Nom",
    "date_de_naissance": "Date de naissance",
    "courriel": "Courriel",
    "telephone": "Téléphone",
    "code_postal": "Code postal",
    "commune": "Commune",
    "reside_en_qpv": "Réside en quartier prioritaire (QPV)",
    "niveau_de_qualification": "Niveau de qualification",
    "dispositif": "Dispositif",
    "identifiant_imilo": "Identifiant i-milo",
    "mission_locale": "Mission Locale",
    "conseiller_referent": "Conseiller·ère référent·e",
    "inscrit_le": "Inscrit·e le",
    "notice_d_information_remise_le": "Notice d'information remise le",
}


def _value(value):
    if value is True:
        return "oui"
    if value is False:
        return "non"
    if value in (None, ""):
        return "—"
    return _french_date(str(value))


def _french_date(text):
    """2026-03-05 → 05/03/2026; 2026-03-05T10:12:00+01:00 → 05/03/2026 10:12; anything else unchanged."""
    if len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        day = f"{text[8:10]}/{text[5:7]}/{text[:4]}"
        return f"{day} {text[11:16]}" if len(text) >= 16 and text[10] == "T" else day
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit():
        return f"{text[5:7]}/{text[:4]}"
    return text


def _section(story, s, title, header, rows, widths, empty="Aucune donnée."):
    story.append(pdf.para(title, s["h2"]))
    if rows:
        story.append(pdf.table(header, [[_value(c) for c in row] for row in rows], [w * mm for w in widths]))
    else:
        story.append(pdf.para(empty, s["body"]))


def render(data: dict) -> bytes:
    s = pdf.styles()
    identity = data["identite"]
    story = [
        pdf.para("Vos données dans Parcours", s["title"]),
        pdf.para(
            f"{identity['prenom']} {identity['nom']} — document produit le "
            f"{_french_date(data['document']['produit_le'])} par {data['document']['responsable_de_traitement']}, "
            "responsable du traitement, au titre du droit d'accès (article 15 du RGPD).",
            s["subtitle"],
        ),
        pdf.para(
            "Ce document est destiné à la personne concernée. Il contient toutes les données que Parcours conserve "
            "sur vous, l'historique des actions faites sur votre dossier et la liste des personnes qui l'ont "
            "consulté. Pour faire rectifier ou effacer une donnée, adressez-vous à votre Mission Locale ou à son "
            "délégué à la protection des données ; vous pouvez aussi saisir la CNIL (www.cnil.fr).",
            s["body"],
        ),
        pdf.para("Identité et situation", s["h2"]),
        pdf.facts([(IDENTITY_LABELS.get(k, k), _value(v)) for k, v in identity.items()]),
    ]
    story.append(pdf.para("Éligibilité aux clauses sociales", s["h2"]))
    if not data["eligibilite"]:
        story.append(pdf.para("Aucune évaluation.", s["body"]))
    for assessment in data["eligibilite"]:
        criteria = ", ".join(
            f"{c['critere']}"
            + (f" (justificatif vu le {_value(c['justificatif_vu_le'])})" if c["justificatif_vu_le"] else "")
            for c in assessment["criteres"]
        )
        story.append(
            pdf.facts(
                [
                    ("Soumise le", _value(assessment["soumise_le"])),
                    ("Décision", f"{assessment['decision']} ({_value(assessment['decidee_le'])})"),
                    ("Valide jusqu'au", _value(assessment["valide_jusqu_au"])),
                    ("Critères", criteria or "—"),
                    ("Dérogation", _value(assessment["derogation"])),
                ]
            )
        )
        story.append(pdf.spacer(2))
    _section(
        story,
        s,
        "Parcours",
        ["N°", "État", "Début", "Sortie", "Clôture"],
        [[p["numero"], p["etat"], p["debut"], p["sortie"], p["cloture"]] for p in data["parcours"]],
        [15, 50, 35, 35, 39],
    )
    _section(
        story,
        s,
        "Positionnements sur des offres",
        ["Offre", "Employeur", "État", "Le", "Motivation / motif"],
        [
            [
                r["offre"],
                r["employeur"],
                r["etat"],
                r["cree_le"],
                " — ".join(x for x in (r["motivation"], r["motif_de_decision"]) if x),
            ]
            for r in data["positionnements"]
        ],
        [38, 34, 28, 20, 54],
    )
    _section(
        story,
        s,
        "Mises en poste",
        ["Employeur", "Contrat", "Heures/sem.", "Début", "Fin", "État"],
        [
            [
                p["employeur"],
                p["type_de_contrat"],
                p["heures_par_semaine"],
                p["commence_le"] or p["debut_prevu"],
                p["termine_le"] or p["fin_prevue"],
                p["etat"],
            ]
            for p in data["mises_en_poste"]
        ],
        [40, 32, 20, 25, 25, 32],
    )
    _section(
        story,
        s,
        "Heures de travail déclarées",
        ["Mois", "Heures", "Régularisation", "État"],
        [[h["mois"], h["heures"], h["regularisation"], h["etat"]] for h in data["heures"]],
        [35, 35, 40, 64],
    )
    _section(
        story,
        s,
        "Suivis",
        ["Type", "Prévu le", "Réalisé le", "Par", "Note"],
        [[f["type"], f["prevu_le"], f["realise_le"], f["par"], f["note"]] for f in data["suivis"]],
        [30, 22, 22, 35, 65],
    )
    _section(
        story,
        s,
        "Sorties",
        ["Date", "Catégorie", "Précision"],
        [[e["date"], e["categorie"], e["precision"]] for e in data["sorties"]],
        [25, 45, 104],
    )
    _section(
        story,
        s,
        "Historique des actions sur le dossier",
        ["Date", "Par", "Objet", "Action", "État", "Motif"],
        [
            [
                e["date"],
                f"{e['par']} ({e['organisation']})" if e["organisation"] else e["par"],
                e["objet"],
                e["action"],
                " → ".join(x for x in (e["etat_avant"], e["etat_apres"]) if x),
                e["motif"],
            ]
            for e in data["historique"]
        ],
        [24, 36, 24, 30, 30, 30],
    )
    _section(
        story,
        s,
        "Qui a consulté ce dossier",
        ["Date", "Par", "Organisation", "Rôle", "Canal"],
        [[a["date"], a["par"], a["organisation"], a["role"], a["canal"]] for a in data["consultations"]],
        [26, 35, 53, 35, 25],
        empty="Aucune consultation enregistrée.",
    )
    return pdf.render(
        story,
        title=f"Parcours — droit d'accès — {identity['prenom']} {identity['nom']}",
        footer=f"Document personnel et confidentiel — {data['document']['responsable_de_traitement']}",
    )
