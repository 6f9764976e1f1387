"""An XLSX export streams: its first bytes leave before the last row is read, and the workbook
they make up opens with every row."""

from __future__ import annotations

import io
import secrets

from openpyxl import load_workbook

from surveys.export import xlsx_chunks


def test_xlsx_bytes_flow_before_the_last_row_is_read():
    rows_read = []

    def rows():
        yield ["response_id", "text"]
        for number in range(3000):
            rows_read.append(number)
            # Text that does not compress, so the zip has bytes to hand on early.
            yield [number, secrets.token_hex(40)]

    chunks = xlsx_chunks([("Responses", rows()), ("Codebook", [["column"], ["text"]])])
    first = next(chunks)
    read_before_first_chunk = len(rows_read)
    body = first + b"".join(chunks)
    assert first.startswith(b"PK")
    assert read_before_first_chunk < 3000
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    sheet = list(workbook["Responses"].iter_rows(values_only=True))
    assert len(sheet) == 3001 and sheet[1][0] == 0 and sheet[-1][0] == 2999
    assert list(workbook["Codebook"].iter_rows(values_only=True)) == [("column",), ("text",)]
