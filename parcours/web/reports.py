"""Dashboards and clause reports (bilans): the facilitator's lots, a buyer's contracts (pseudonymised: participants
appear as pseudonyms only). Figures come from parcours.selectors.reports; this module draws and exports them."""

import csv
import io
from decimal import Decimal

from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext

from parcours.access_log import log_access
from parcours.counting import hours_text
from parcours.dates import month_label
from parcours.documents import clause_report as exports
from parcours.selectors import kept_figures, lot_hours
from parcours.selectors import reports as selectors
from parcours.web.charts import bars
from parcours.web.common import role_required
from roles.enums import Role
from workflows.vocabulary import AccessChannel

app_name = "reports"


@role_required(Role.FACILITATOR, Role.AUDITOR)
def dashboard(request, *, actor):
    figures = lot_hours.summary_figures(actor=actor)  # the lots' summaries, not a count of every placement
    lots = figures.lots
    by_month = sorted(figures.merged("by_month").items())
    by_public = figures.merged("by_public")
    counts = figures.participants_by_public()
    operations = figures.by_operation()
    lot_labels = figures.lot_labels()
    contracts = figures.by_contract()
    charts = {
        "lots": bars(
            [(lot_labels[f.lot.pk], f.counted) for f in lots], targets={lot_labels[f.lot.pk]: f.target for f in lots}
        ),
        "operations": bars(
            [(name, counted) for name, (_, counted) in operations.items()],
            targets={name: target for name, (target, _) in operations.items()},
        ),
        "contracts": bars(
            [(name, counted) for name, (_, counted) in contracts.items()],
            targets={name: target for name, (target, _) in contracts.items()},
        ),
        "months": bars([(month_label(month), value) for month, value in by_month[-12:]]),
        "modes": bars([(selectors.mode_label(mode), value) for mode, value in figures.merged("by_mode").items()]),
        "employers": bars(sorted(figures.by_employer().items())),
        "publics": bars([(label, by_public.get(key, 0)) for key, label in figures.publics])
        if figures.person_publics
        else None,
    }
    publics = [
        (label, counts.get(key, 0), hours_text(by_public.get(key, 0)) if figures.person_publics else None)
        for key, label in figures.publics
    ]
    pathways = kept_figures.pathway_figures(actor=actor)
    charts["funnel"] = bars(pathways.funnel, fmt=lambda n: f"{n:.0f}")
    for lot in lots:
        lot.realised_pct, lot.elapsed_pct = lot.realised_percent, lot.elapsed_percent
    return render(
        request,
        "reports/dashboard.html",
        {
            "figures": figures,
            "lots": lots,
            "charts": charts,
            "publics": publics,
            "pathways": pathways,
            "target_label": hours_text(figures.total("target")),
            "counted_label": hours_text(figures.total("counted")),
            "declared_label": hours_text(figures.total("declared")),
            "at_risk": figures.at_risk,
            "today": timezone.localdate(),
            "figures_minutes": int(kept_figures.max_age().total_seconds() // 60),
            "may_consolidate": actor.role == Role.FACILITATOR,
            "years": list(range(timezone.localdate().year, timezone.localdate().year - 4, -1)),
        },
    )


def _lot_figures(actor, pk):
    lots = selectors.report_lots(actor).filter(pk=pk)
    figures = selectors.clause_figures(actor=actor, lots=lots)
    if not figures.lots:
        raise Http404("Lot introuvable.")
    return figures.lots[0], figures


@role_required(Role.FACILITATOR, Role.AUDITOR)
def lot_report_xlsx(request, pk, *, actor):
    lot, figures = _lot_figures(actor, pk)
    content = exports.clause_report_xlsx(lot, figures)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="bilan-clause-lot-{lot.lot.pk}.xlsx"'
    return response


@role_required(Role.FACILITATOR, Role.AUDITOR)
def lot_report_pdf(request, pk, *, actor):
    lot, figures = _lot_figures(actor, pk)
    buffer = io.BytesIO()
    exports.clause_report_pdf(lot, figures, buffer)
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="bilan-clause-lot-{lot.lot.pk}.pdf"'
    return response


@role_required(Role.FACILITATOR)
def consolidation(request, fmt, *, actor):
    """The facilitation organisation's yearly consolidation (`?annee=`, default: last year), CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise Http404("Format inconnu.")
    current = timezone.localdate().year
    text = request.GET.get("annee")
    if text is None:
        year = current - 1
    elif text.isascii() and text.isdigit() and 2000 <= int(text) <= current:
        year = int(text)
    else:  # another year's file under the name asked for, or last year's silently, would answer another question
        return HttpResponseBadRequest(
            gettext("Export impossible : l'année « %(text)s » n'est pas une année de 2000 à %(current)s.")
            % {"text": text[:20], "current": current},
            content_type="text/plain; charset=utf-8",
        )
    data = selectors.consolidation(actor=actor, year=year)
    name = f"consolidation-{year}"
    if fmt == "xlsx":
        response = HttpResponse(
            exports.consolidation_xlsx(data),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response.write("\ufeff")
        writer = csv.writer(response, delimiter=";")
        for row in exports.consolidation_csv_rows(data):
            writer.writerow([str(value).replace(".", ",") if isinstance(value, Decimal) else value for value in row])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _csv_value(value):
    if value is None:
        return ""
    return f"{value:%d/%m/%Y}" if hasattr(value, "strftime") else value


@role_required(Role.FACILITATOR)
def esf_export(request, *, actor):
    """The ESF / IEJ participant indicators (pseudonyms only), CSV, streamed."""

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo(), delimiter=";")

    def lines():
        yield "\ufeff" + writer.writerow(selectors.ESF_HEADER)
        for row in selectors.esf_rows(actor=actor):
            yield writer.writerow([_csv_value(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="indicateurs-fse-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


def _download(report, figures, fmt, name):
    if fmt == "xlsx":
        response = HttpResponse(
            exports.clause_report_xlsx(report, figures),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        buffer = io.BytesIO()
        exports.clause_report_pdf(report, figures, buffer)
        response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@role_required(Role.FACILITATOR, Role.AUDITOR)
def group_report(request, kind, pk, fmt, *, actor):
    """The clause report of a contract's or an operation's lots (those in the viewer's reach), XLSX or PDF."""
    if fmt not in ("xlsx", "pdf"):
        raise Http404("Format inconnu.")
    report, figures = selectors.group_figures(actor=actor, kind=kind, pk=pk)
    if report is None:
        raise Http404("Introuvable.")
    return _download(report, figures, fmt, f"bilan-clause-{'marche' if kind == 'contract' else 'operation'}-{pk}")


@role_required(Role.FACILITATOR)
def committee_pack(request, pk, *, actor):
    """The insertion committee pack of an operation (PDF, names: the read is in the access log)."""
    pack = selectors.committee_pack(actor=actor, operation_pk=pk)
    if pack is None:
        raise Http404("Opération introuvable.")
    log_access(
        actor=actor, participant_ids=pack.participant_ids, channel=AccessChannel.EXPORT, purpose="committee_pack"
    )
    response = HttpResponse(
        exports.committee_pack_pdf(pack, today=timezone.localdate()), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="commission-insertion-operation-{pk}.pdf"'
    return response


urlpatterns = [
    path("operations/<id:pk>/commission.pdf", committee_pack, name="committee_pack"),
    path("marches/<id:pk>/bilan.<str:fmt>", group_report, {"kind": "contract"}, name="contract_report"),
    path("operations/<id:pk>/bilan.<str:fmt>", group_report, {"kind": "operation"}, name="operation_report"),
    path("indicateurs-fse.csv", esf_export, name="esf_export"),
    path("consolidation.<str:fmt>", consolidation, name="consolidation"),
    path("", dashboard, name="dashboard"),
    path("lots/<id:pk>/bilan.xlsx", lot_report_xlsx, name="lot_report_xlsx"),
    path("lots/<id:pk>/bilan.pdf", lot_report_pdf, name="lot_report_pdf"),
]
