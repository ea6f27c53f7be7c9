"""Personal data: the leak scanner for reports, and (re-exported) pseudonymisation.

* **Pseudonymisation** lives in :mod:`galaxy_lib.governance.pseudonyms` (the
  secret salt and the keyed hash); its names are importable from here too.
* **Leak scanning.** :func:`scan_text` and :func:`scan_folder` look for e-mail
  addresses, phone numbers and raw customer identifiers (``C`` + 8 digits, plus
  any exact ids the caller passes) in anything a run publishes: notebooks,
  HTML, JSON, CSV, Markdown. A finding never carries the raw value: only a
  masked copy and a masked snippet of its context.

Why hand-written: the scanners of the field (Microsoft Presidio, scrubadub)
need spaCy language models downloaded at run time and are tuned for prose, not
for reports full of timestamps, run ids and float arrays. The patterns below are
narrow on purpose and each false-positive guard has a test.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from galaxy_lib.governance.pseudonyms import (
    DEMO_ENV,
    DEMO_SALT,
    MIN_SALT_LENGTH,
    SALT_ENV,
    SaltError,
    get_salt,
    pseudonymise,
)

__all__ = [
    "DEMO_ENV",
    "DEMO_SALT",
    "MIN_SALT_LENGTH",
    "SALT_ENV",
    "SCANNED_SUFFIXES",
    "PiiFinding",
    "PiiLeakError",
    "PiiScanResult",
    "RawIdMatcher",
    "SaltError",
    "get_salt",
    "mask_value",
    "pseudonymise",
    "redact_many",
    "redact_pii",
    "scan_file",
    "scan_folder",
    "scan_text",
]

#: File types a report scan reads (lower-case suffixes).
SCANNED_SUFFIXES: tuple[str, ...] = (
    ".ipynb",
    ".html",
    ".htm",
    ".json",
    ".csv",
    ".md",
    ".txt",
    ".py",
    ".yaml",
    ".yml",
)


class PiiLeakError(RuntimeError):
    """Raised when published output contains personal data (the message shows masked values only)."""


@dataclass(frozen=True)
class PiiFinding:
    """One suspected piece of personal data. Never holds the raw value.

    Attributes
    ----------
    kind
        ``"email"``, ``"phone"``, ``"customer_id"`` (pattern ``C`` + 8 digits) or
        ``"raw_id"`` (an exact identifier passed by the caller).
    masked
        The value with all but its first and last two characters replaced by ``*``.
    snippet
        Up to 30 characters either side, with every finding inside it masked.
    offset
        Character offset in the scanned text.
    line
        1-based line number in the scanned text.
    file
        The file (for :func:`scan_folder`), else ``None``.
    location
        For notebooks and JSON files, the path of the string inside the document
        (e.g. ``cells[3].outputs[0].data.text/html``); ``offset`` and ``line``
        then count within that string.
    """

    kind: str
    masked: str
    snippet: str
    offset: int
    line: int
    file: str | None = None
    location: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file else f"line {self.line}"
        if self.location:
            where = f"{self.file or ''}[{self.location}]:{self.line}"
        return f"{where}: {self.kind} {self.masked} in ...{self.snippet}..."


@dataclass(frozen=True)
class PiiScanResult:
    """Outcome of :func:`scan_folder`.

    Attributes
    ----------
    ok
        True when nothing was found.
    findings
        Every finding (masked), in file then offset order.
    files_scanned
        Number of files read.
    bytes_scanned
        Total size of the files read.
    root
        The folder or file scanned.
    """

    ok: bool
    findings: tuple[PiiFinding, ...]
    files_scanned: int
    bytes_scanned: int = 0
    root: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self, max_lines: int = 20) -> str:
        """Human-readable summary (masked values only)."""
        if self.ok:
            return f"PII scan of {self.root}: no findings in {self.files_scanned} files."
        lines = [
            f"PII scan of {self.root}: {len(self.findings)} finding(s) in {self.files_scanned} files "
            f"({', '.join(f'{k}={v}' for k, v in sorted(self.counts.items()))}):"
        ]
        lines += [f"  {f}" for f in self.findings[:max_lines]]
        if len(self.findings) > max_lines:
            lines.append(f"  ... and {len(self.findings) - max_lines} more.")
        return "\n".join(lines)

    def raise_if_leaks(self) -> None:
        """Raise :class:`PiiLeakError` with the masked summary when anything was found."""
        if not self.ok:
            raise PiiLeakError(self.summary())


# E-mail: a plain local@domain.tld; image names such as logo@2x.png are not addresses.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_NOT_EMAIL_TLD = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"})

# Phone numbers. The pattern opens with a plain character class so the regex engine
# skips quickly to the next '+', '(' or digit; the fixed-width look-behind right after it
# then rejects a start inside a word, a number, a float's fraction, a hash, base64 or a
# date/time chain, and the look-ahead at the end rejects the same on the right.
_PHONE = re.compile(
    r"[+(0-9](?<![\w.+/=\-].)"
    r"(?:"
    # international: +44 20 7946 0958, +44 (0)20 7946 0958, +1 (555) 123-4567, +447700900123
    r"(?<=\+)\d{1,3}(?:[ .\-]?\(\d{1,4}\))?(?:[ .\-]?\d{1,5}){1,6}"
    # UK national: 020 7946 0958, 07700 900123, 0161-496-0000, 07700900123
    r"|(?<=0)\d{2,4}(?:[ \-]?\d{2,6}){1,3}"
    # UK with area code in brackets: (0161) 496 0000, (020) 7946 0958
    r"|(?<=\()0\d{2,4}\) ?\d{3,4}[ \-]?\d{3,4}"
    # US/NANP: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199
    r"|(?<=\()[2-9]\d{2}\) ?\d{3}[.\-]\d{4}"
    r"|(?<=[2-9])\d{2}[.\-]\d{3}[.\-]\d{4}"
    r"|(?<=1)[ .\-](?:\([2-9]\d{2}\) ?|[2-9]\d{2}[.\-])\d{3}[.\-]\d{4}"
    r")"
    r"(?![\w+]|[.,]\d|-\d)"
)
_CUSTOMER_ID = re.compile(r"(?<![A-Za-z0-9])C\d{8}(?!\d)")
_ALNUM_TOKEN = re.compile(r"[A-Za-z0-9]+")
# Base64 payloads of plotly typed arrays and embedded images: binary, never readable text.
_BASE64_BLOB = re.compile(
    r'(?:"bdata"\s*:\s*"|"image/(?:png|jpeg|jpg|gif|webp|bmp)"\s*:\s*"|data:image/[a-z+.\-]+;base64,)'
    r"[A-Za-z0-9+/=\\]+"
)
_BINARY_KEYS = frozenset({"bdata", "image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp", "image/bmp"})
# JSON / Python string escapes (\n, \t, \r) glue a letter to the next digit; blank them (same length).
_ESCAPE = re.compile(r"\\[nrt]")


def _phone_digits_ok(candidate: str) -> bool:
    digits = [ch for ch in candidate if ch.isdigit()]
    n = len(digits)
    ok = 8 <= n <= 15 if candidate.startswith("+") else n in (10, 11)
    # padding and lookup tables ("0000000000", "0123456789") are not phone numbers
    return ok and len(set(digits)) >= 3 and "0123456789" not in "".join(digits)


def mask_value(value: str) -> str:
    """Mask a sensitive value: keep the first and last two characters, star the rest.

    Values of 5 characters or fewer are starred completely.
    """
    if len(value) <= 5:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 3) + value[-2:]


class RawIdMatcher:
    """Exact-identifier search that scales to 10^5+ ids.

    Purely alphanumeric ids (the normal case) are matched by tokenising the text
    into alphanumeric runs and looking each up in a set; other ids go through an
    escaped regex alternation.
    """

    def __init__(self, raw_ids: Iterable[str]):
        if isinstance(raw_ids, str):
            raise TypeError("raw_ids must be an iterable of identifiers, not a single string.")
        ids = {str(i).strip() for i in raw_ids if i is not None and str(i).strip()}
        self.tokens = frozenset(i for i in ids if i.isascii() and i.isalnum())
        others = sorted(ids - self.tokens, key=len, reverse=True)
        self.regex = (
            re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, others)) + r")(?![A-Za-z0-9])")
            if others
            else None
        )

    def __bool__(self) -> bool:
        return bool(self.tokens) or self.regex is not None

    def finditer(self, text: str) -> Iterable[tuple[int, int]]:
        """Yield ``(start, end)`` of every exact id in ``text``."""
        if self.tokens:
            for m in _ALNUM_TOKEN.finditer(text):
                if m.group() in self.tokens:
                    yield m.start(), m.end()
        if self.regex is not None:
            for m in self.regex.finditer(text):
                yield m.start(), m.end()


_KIND_ORDER = {"email": 0, "customer_id": 1, "phone": 2, "raw_id": 3}


def _raw_spans(text: str, matcher: RawIdMatcher | None, base: int = 0) -> list[tuple[int, int, str]]:
    """Spans (offset by ``base``) of every match in ``text``, overlaps not yet resolved."""
    spans: list[tuple[int, int, str]] = []
    if "@" in text:
        for m in _EMAIL.finditer(text):
            if m.group().rsplit(".", 1)[-1].lower() not in _NOT_EMAIL_TLD:
                spans.append((base + m.start(), base + m.end(), "email"))
    for m in _PHONE.finditer(text):
        if _phone_digits_ok(m.group()):
            spans.append((base + m.start(), base + m.end(), "phone"))
    if "C" in text:
        spans.extend((base + m.start(), base + m.end(), "customer_id") for m in _CUSTOMER_ID.finditer(text))
    if matcher:
        spans.extend((base + s, base + e, "raw_id") for s, e in matcher.finditer(text))
    return spans


def _resolve(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """One finding per location: earliest start, then longest span, then pattern kinds before raw ids."""
    spans.sort(key=lambda t: (t[0], -(t[1] - t[0]), _KIND_ORDER[t[2]]))
    kept: list[tuple[int, int, str]] = []
    for s, e, k in spans:
        if kept and s < kept[-1][1]:
            continue
        kept.append((s, e, k))
    return kept


_BUNDLES: list[str] | None = None


def _vendored_bundles() -> list[str]:
    """Third-party JavaScript that reports embed verbatim (plotly.js), loaded once.

    Its minified source contains digit tables and a maintainer's e-mail in a
    licence comment; only an exact copy of the shipped file is skipped, so any
    data next to it is still scanned.
    """
    global _BUNDLES
    if _BUNDLES is None:
        _BUNDLES = []
        try:
            from importlib.resources import files

            _BUNDLES.append((files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8"))
        except (ImportError, FileNotFoundError, OSError):
            pass
    return _BUNDLES


def _segments(text: str) -> list[tuple[int, str]]:
    r"""Split ``text`` into the parts worth scanning, as (offset, part).

    Left out: exact copies of vendored bundles (plotly.js) and base64 payloads
    (plotly typed arrays, embedded images). They are the bulk of a report's HTML
    and cannot hold readable personal data. JSON/Python escapes ``\\n``, ``\\t``,
    ``\\r`` are blanked (same length) so ``"\\n07700 900123"`` is still a phone number.
    """
    skip: list[tuple[int, int]] = []
    if "plotly.js" in text:
        for bundle in _vendored_bundles():
            start = text.find(bundle)
            while start >= 0:
                skip.append((start, start + len(bundle)))
                start = text.find(bundle, start + len(bundle))
    if "bdata" in text or "image/" in text:
        skip.extend(m.span() for m in _BASE64_BLOB.finditer(text))
    parts: list[tuple[int, str]] = []
    pos = 0
    for s, e in sorted(skip):
        if s > pos:
            parts.append((pos, text[pos:s]))
        pos = max(pos, e)
    if pos < len(text):
        parts.append((pos, text[pos:] if pos else text))
    return [(off, _ESCAPE.sub("  ", part) if "\\" in part else part) for off, part in parts]


def _findings(
    text: str,
    matcher: RawIdMatcher | None,
    file: str | None,
    location: str | None = None,
    context: int = 30,
) -> list[PiiFinding]:
    raw: list[tuple[int, int, str]] = []
    for offset, part in _segments(text):
        raw.extend(_raw_spans(part, matcher, offset))
    spans = _resolve(raw)
    if not spans:
        return []
    newlines = [m.start() for m in re.finditer("\n", text)]
    starts = [s for s, _, _ in spans]
    out = []
    for s, e, kind in spans:
        lo, hi = max(0, s - context), min(len(text), e + context)
        chars = list(text[lo:hi])
        # mask every finding that overlaps the window (including this one)
        j = max(0, bisect.bisect_left(starts, lo) - 1)
        while j < len(spans) and spans[j][0] < hi:
            s2, e2, _ = spans[j]
            a, b = max(s2, lo), min(e2, hi)
            if a < b:
                chars[a - lo : b - lo] = mask_value(text[s2:e2]) if (a, b) == (s2, e2) else "*" * (b - a)
            j += 1
        snippet = "".join(chars).replace("\n", " ").replace("\r", " ")
        line = bisect.bisect_right(newlines, s) + 1
        out.append(PiiFinding(kind, mask_value(text[s:e]), snippet, s, line, file, location))
    return out


def scan_text(text: str, raw_ids: Iterable[str] = ()) -> list[PiiFinding]:
    """Find e-mail addresses, phone numbers and raw customer identifiers in ``text``.

    Parameters
    ----------
    text
        Any text: notebook JSON, HTML, CSV, Markdown.
    raw_ids
        Exact identifiers that must not appear (e.g. the raw ``customer_id`` column),
        in addition to the built-in pattern ``C`` + 8 digits.

    Returns
    -------
    list of PiiFinding
        In text order, masked. Recognised: e-mail addresses; phone numbers in
        international (``+44 20 7946 0958``, ``+1 (555) 123-4567``, ``+447700900123``),
        UK (``020 7946 0958``, ``07700 900123``) and US (``(555) 123-4567``,
        ``555-123-4567``, ``1-800-555-0199``) formats; ids ``C`` + 8 digits;
        the exact ``raw_ids``.

    Notes
    -----
    Not flagged, by design: dates and ISO timestamps, floats and their fractions,
    hex hashes and pseudonymised keys (``k_...``), run ids such as
    ``20261128T231500Z-ab12cd``, numbers embedded in words, and bare 10-digit
    US numbers without separators (indistinguishable from large counts).
    """
    if not isinstance(text, str):
        raise TypeError(f"scan_text expects str, got {type(text).__name__}.")
    matcher = raw_ids if isinstance(raw_ids, RawIdMatcher) else RawIdMatcher(raw_ids)
    return _findings(text, matcher, None)


def redact_pii(text: object, raw_ids: Iterable[str] | RawIdMatcher = ()) -> str:
    """Return ``text`` with every e-mail, phone number and customer id masked (:func:`mask_value`).

    The one masking function for everything the workbench records permanently:
    run errors and status reasons (manifest, audit log, report index), quarantine
    reasons and log lines. It finds exactly what :func:`scan_text` finds, so a
    redacted text passes the report scan.

    Parameters
    ----------
    text
        Any value; non-strings are converted with ``str`` first (``None`` gives ``""``).
    raw_ids
        Exact identifiers to mask as well (e.g. the raw ``customer_id`` column), or a
        :class:`RawIdMatcher` built from them once for many calls.

    Examples
    --------
    >>> redact_pii("no row for jane.doe@example.com (C12345678)")
    'no row for j*****************om (C******78)'
    """
    if text is None:
        return ""
    text = text if isinstance(text, str) else str(text)
    matcher = raw_ids if isinstance(raw_ids, RawIdMatcher) else RawIdMatcher(raw_ids)
    spans = _resolve(_raw_spans(_ESCAPE.sub("  ", text) if "\\" in text else text, matcher))
    if not spans:
        return text
    out, pos = [], 0
    for s, e, _ in spans:
        out.append(text[pos:s])
        out.append(mask_value(text[s:e]))
        pos = e
    out.append(text[pos:])
    return "".join(out)


def redact_many(texts: Iterable[object], raw_ids: Iterable[str] | RawIdMatcher = ()) -> list[str]:
    """:func:`redact_pii` of every text, in one pass over them all (one id matcher, not one per text).

    What quarantine writers use for the reasons of a batch of rejected rows.
    """
    texts = ["" if t is None else str(t) for t in texts]
    matcher = raw_ids if isinstance(raw_ids, RawIdMatcher) else RawIdMatcher(raw_ids)
    sep = "\n\x1e\n"  # no pattern matches across it; a text holding it is masked on its own
    joined = sep.join(texts)
    if joined.count(sep) == len(texts) - 1:
        out = redact_pii(joined, matcher).split(sep)
        if len(out) == len(texts):
            return out
    return [redact_pii(t, matcher) for t in texts]


def _walk_json(node: object, path: str, out: list[tuple[str, str]]) -> None:
    """Collect (path, text) for every string in a JSON document; lists of strings are joined."""
    if isinstance(node, str):
        out.append((path, node))
    elif isinstance(node, list):
        if node and all(isinstance(x, str) for x in node):
            out.append((path, "".join(node)))
        else:
            for i, x in enumerate(node):
                _walk_json(x, f"{path}[{i}]", out)
    elif isinstance(node, dict):
        for k, v in node.items():
            key = str(k)
            sub = f"{path}.{key}" if path else key
            out.append((sub + "<key>", key))
            if key in _BINARY_KEYS and isinstance(v, (str, list)):
                continue  # base64 payload
            _walk_json(v, sub, out)


def scan_file(path: str | Path, raw_ids: Iterable[str] | RawIdMatcher = ()) -> list[PiiFinding]:
    """Scan one file; see :func:`scan_text`.

    ``.ipynb`` and ``.json`` files are parsed and every string (cell sources,
    outputs, metadata, keys) is scanned decoded, so JSON escapes cannot hide or
    glue a value; base64 image payloads are skipped. Invalid JSON and all other
    files are scanned as UTF-8 text (undecodable bytes replaced).
    """
    path = Path(path)
    matcher = raw_ids if isinstance(raw_ids, RawIdMatcher) else RawIdMatcher(raw_ids)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".ipynb", ".json"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if doc is not None:
            strings: list[tuple[str, str]] = []
            _walk_json(doc, "", strings)
            out: list[PiiFinding] = []
            for where, value in strings:
                out.extend(_findings(value, matcher, str(path), where.removesuffix("<key>") or "$"))
            return out
    return _findings(text, matcher, str(path))


def scan_folder(
    path: str | Path,
    raw_ids: Iterable[str] | RawIdMatcher = (),
    suffixes: Sequence[str] = SCANNED_SUFFIXES,
) -> PiiScanResult:
    """Scan every text-like file under ``path`` (recursively) for personal data.

    Parameters
    ----------
    path
        A folder (scanned recursively) or a single file.
    raw_ids
        Exact identifiers that must not appear; see :func:`scan_text`.
    suffixes
        File types to read (default :data:`SCANNED_SUFFIXES`); others (PNG, Parquet) are skipped.

    Returns
    -------
    PiiScanResult
        ``ok`` is True when nothing was found.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.

    Notes
    -----
    Each file is read whole and searched with compiled regular expressions that
    have literal prefilters (``@`` for e-mails, ``C`` for ids), so a 20 MB
    plotly HTML report takes well under a second or two.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"Cannot scan {root}: it does not exist.")
    wanted = {s.lower() for s in suffixes}
    files = (
        [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in wanted)
    )
    matcher = raw_ids if isinstance(raw_ids, RawIdMatcher) else RawIdMatcher(raw_ids)
    findings: list[PiiFinding] = []
    nbytes = 0
    for f in files:
        nbytes += f.stat().st_size
        findings.extend(scan_file(f, matcher))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return PiiScanResult(
        ok=not findings,
        findings=tuple(findings),
        files_scanned=len(files),
        bytes_scanned=nbytes,
        root=str(root),
        counts=counts,
    )
