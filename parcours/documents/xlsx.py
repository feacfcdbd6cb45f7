"""XLSX workbooks (openpyxl): a header row in bold, frozen, filterable, columns sized to their content; text cells
are always text, so a value starting with "=" is never a formula (spreadsheet injection)."""

import datetime
import decimal
import io

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

HEADER_FILL = PatternFill("solid", fgColor="E8EDF8")


def _cell_value(value):
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)  # callers pass local (Paris) times; Excel has no time zones
    if isinstance(value, bool | int | float | decimal.Decimal | datetime.date):
        return value
    return "" if value is None else str(value)


def workbook(sheets) -> bytes:
    """`sheets`: [(title, header, rows)]. Returns the .xlsx bytes."""
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        widths = [len(str(h)) for h in header]
        # The row's number is counted here: `sheet.max_row` reads every cell written so far, which made a sheet
        # quadratic in its rows (2,000 rows of 10 cells: 4.4 s).
        for number, row in enumerate(rows, start=2):
            values = [_cell_value(v) for v in row]
            sheet.append(values)
            for index, value in enumerate(values):
                cell = sheet.cell(row=number, column=index + 1)
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula
                elif isinstance(value, datetime.datetime):
                    cell.number_format = "dd/mm/yyyy hh:mm"
                elif isinstance(value, datetime.date):
                    cell.number_format = "dd/mm/yyyy"
                widths[index] = max(widths[index], min(len(str(value)), 60))
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width + 2
        sheet.freeze_panes = "A2"
        if sheet.max_row > 1:  # once per sheet
            sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
