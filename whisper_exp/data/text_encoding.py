"""Reading transcript and metadata files whatever tool wrote them: one rule for every reader.

Order: a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE — Windows tools often write
one); else UTF-8; else the encoding declared in ``data.encoding`` (e.g. cp1252, latin-1). A file
that none of these decodes fails with a DataError naming the file, the line of the first bad byte
and the option to set. No guessing: a wrong guess would silently corrupt every transcript.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from whisper_exp.data.errors import DataError

# Longest marks first: the UTF-32 LE mark starts with the UTF-16 LE one.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode_text(raw: bytes, where: str | Path, declared: str | None = None) -> str:
    """The text of `raw` (the bytes of file `where`) by the rule in the module doc."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise DataError(f"{where}:{_line_of(raw, err.start)}: starts with a {encoding} byte-order mark but "
                                f"does not decode as {encoding} ({err.reason}); re-save the file") from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        utf8_error = err
    if declared:
        try:
            return raw.decode(declared)
        except LookupError as err:
            raise DataError(f"data.encoding={declared!r} is not an encoding Python knows") from err
        except UnicodeDecodeError as err:
            raise DataError(f"{where}:{_line_of(raw, err.start)}: not valid {declared} (data.encoding) either "
                            f"({err.reason}); set data.encoding to the file's encoding") from err
    raise DataError(f"{where}:{_line_of(raw, utf8_error.start)}: not UTF-8 (byte {raw[utf8_error.start]:#04x}) and no "
                    "byte-order mark; set data.encoding=<its encoding> (e.g. data.encoding=cp1252 for Windows "
                    "text, latin-1) or re-save the file as UTF-8") from utf8_error


def read_text(path: Path, declared: str | None = None) -> str:
    """Read a whole text file by the rule in the module doc (newlines kept as written)."""
    return decode_text(path.read_bytes(), path, declared)
