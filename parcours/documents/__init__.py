"""Documents Parcours produces for people outside it: PDF (reportlab, pure Python, no system library) and XLSX
(openpyxl). Each module turns data already read through the selectors into a file; no query, no rule here."""
