"""A CSV file as an HTTP download, built one way for every edge (the API's ?export=csv and the portal's
usage.csv pages), so that their headers cannot drift apart again.

Staff's outcome exports are also offered as an Excel workbook (``xlsx_download``), served the same way.

The rows are usage figures of the reader's own organisation: ``private, no-store`` keeps them out of shared
caches and the browser's disk cache.
"""

import csv
import io
import re

from django.http import HttpResponse

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
CSV_CACHE_CONTROL = "private, no-store"
# Names come from codes and UUIDs; anything else (quotes, slashes, newlines) would break the header.
SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def csv_download(rows: list[dict], columns: list[str], filename: str) -> HttpResponse:
    """``rows`` as a CSV attachment named ``filename``, with a header line of ``columns`` (keys of a row
    outside ``columns`` are left out)."""
    if not SAFE_FILENAME.match(filename):
        raise ValueError(f"unsafe download filename: {filename!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = CSV_CACHE_CONTROL
    return response


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(content: bytes, filename: str) -> HttpResponse:
    """An Excel workbook's bytes as an attachment named ``filename``, kept out of caches like the CSV."""
    if not SAFE_FILENAME.match(filename):
        raise ValueError(f"unsafe download filename: {filename!r}")
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = CSV_CACHE_CONTROL
    return response
