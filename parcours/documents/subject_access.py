"""The subject-access document (droit d'accès) of one participant, as a readable PDF: the same sections as the
JSON export (parcours.selectors.data_protection.subject_access_data), every exported value printed."""

from reportlab.lib.units import mm

from parcours.documents import pdf

# The label of each exported key (a key without one is printed as is: nothing is left out).
LABELS = {
    # identity
    "pseudonyme": "Pseudonyme",
    "prenom": "Prénom",
    "nom": "Nom",
    "date_de_naissance": "Date de naissance",
    "sexe": "Sexe",
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
    "anonymisation_annoncee_le": "Anonymisation annoncée le",
    "anonymise_le": "Anonymisé le",
    # eligibility
    "parcours": "Parcours n°",
    "soumise_le": "Soumise le",
    "soumise_par": "Soumise par",
    "decision": "Décision",
    "decidee_le": "Décidée le",
    "decidee_par": "Décidée par",
    "valide_jusqu_au": "Valide jusqu'au",
    "derogation": "Dérogation",
    "criteres": "Critères",
    # pathways
    "numero": "N°",
    "etat": "État",
    "structure_porteuse": "Structure porteuse",
    "debut": "Début",
    "sortie": "Sortie",
    "cloture": "Clôture",
    # referrals
    "offre": "Offre",
    "lot": "Lot",
    "operation": "Opération",
    "employeur": "Employeur",
    "envoye_par": "Envoyé par",
    "motivation": "Motivation",
    "cree_le": "Créé le",
    "transmis_a_l_employeur_le": "Transmis à l'employeur le",
    "decide_le": "Décidé le",
    "motif_de_decision": "Motif de la décision",
    # placements
    "positionnement": "Positionnement n°",
    "type_de_contrat": "Type de contrat",
    "modalite": "Modalité",
    "heures_par_semaine": "Heures par semaine",
    "debut_prevu": "Début prévu",
    "fin_prevue": "Fin prévue",
    "commence_le": "Commencé le",
    "termine_le": "Terminé le",
    "type_de_fin": "Fin",
    "motif_de_fin": "Motif de fin",
    # follow-ups
    "mise_en_poste": "Mise en poste n°",
    "type": "Type",
    "prevu_le": "Prévu le",
    "realise_le": "Réalisé le",
    "par": "Par",
    "note": "Note",
    # exits
    "date": "Date de sortie",
    "situation": "Situation à la sortie",
    "categorie": "Catégorie",
    "precision": "Précision",
    "enregistree_par": "Enregistrée par",
    "situation_a_6_mois_constatee_le": "Situation à 6 mois constatée le",
    "situation_a_6_mois": "Situation à 6 mois",
    "categorie_a_6_mois": "Catégorie à 6 mois",
    "precision_a_6_mois": "Précision (6 mois)",
    "situation_a_6_mois_enregistree_par": "Situation à 6 mois enregistrée par",
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


def _facts(record):
    return pdf.facts([(LABELS.get(key, key), _value(value)) for key, value in record.items()])


def _records(story, s, title, records, empty="Aucune donnée."):
    """One block of labelled facts per record: every exported key printed."""
    story.append(pdf.para(title, s["h2"]))
    if not records:
        story.append(pdf.para(empty, s["body"]))
    for record in records:
        story.append(_facts(record))
        story.append(pdf.spacer(2))


def _section(story, s, title, header, rows, widths, empty="Aucune donnée."):
    story.append(pdf.para(title, s["h2"]))
    if rows:
        story.append(pdf.table(header, [[_value(c) for c in row] for row in rows], [w * mm for w in widths]))
    else:
        story.append(pdf.para(empty, s["body"]))


def _criterion(c):
    seen = [f"vu le {_value(c['justificatif_vu_le'])}" if c["justificatif_vu_le"] else ""]
    seen.append(f"par {c['justificatif_vu_par']}" if c["justificatif_vu_par"] else "")
    proof = " ".join(x for x in [c["justificatif"], *seen] if x)
    return f"{c['critere']} (justificatif : {proof})" if proof else c["critere"]


def _by_whom(record):
    return f"{record['par']} ({record['organisation']})" if record["organisation"] else record["par"]


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
        _facts(identity),
    ]
    _records(
        story,
        s,
        "Éligibilité aux clauses sociales",
        [{**a, "criteres": ", ".join(_criterion(c) for c in a["criteres"])} for a in data["eligibilite"]],
        empty="Aucune évaluation.",
    )
    _records(story, s, "Parcours", data["parcours"])
    _records(story, s, "Positionnements sur des offres", data["positionnements"])
    _records(story, s, "Mises en poste", data["mises_en_poste"])
    _section(
        story,
        s,
        "Heures de travail déclarées",
        ["N° (poste)", "Mois", "Heures", "Régul.", "État", "Déclarées", "Validées le", "Clôturées le", "Motif"],
        [
            [
                f"{h['numero']} ({h['mise_en_poste']})",
                h["mois"],
                h["heures"],
                h["regularisation"],
                h["etat"],
                " par ".join(x for x in (_value(h["declarees_le"]), h["declarees_par"]) if x),
                h["validees_le"],
                h["cloturees_le"],
                h["motif_de_rejet"],
            ]
            for h in data["heures"]
        ],
        [17, 15, 14, 14, 22, 30, 19, 19, 24],
    )
    _records(story, s, "Suivis", data["suivis"])
    _records(story, s, "Sorties et situation six mois après", data["sorties"])
    _section(
        story,
        s,
        "Historique des actions sur le dossier",
        ["Date", "Par", "Objet", "Action", "État", "Motif"],
        [
            [
                e["date"],
                f"{_by_whom(e)}, {e['role']}" if e["role"] else _by_whom(e),
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
        ["Date", "Par", "Organisation", "Rôle", "Canal", "Pour"],
        [[a["date"], a["par"], a["organisation"], a["role"], a["canal"], a["objet"]] for a in data["consultations"]],
        [24, 32, 40, 30, 22, 26],
        empty="Aucune consultation enregistrée.",
    )
    return pdf.render(
        story,
        title=f"Parcours — droit d'accès — {identity['prenom']} {identity['nom']}",
        footer=f"Document personnel et confidentiel — {data['document']['responsable_de_traitement']}",
    )
