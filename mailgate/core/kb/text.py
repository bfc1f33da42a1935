"""Core, the knowledge base's words: text -> the terms it is indexed and searched by, the same on SQLite and
PostgreSQL. Lower case, accents off, French and English stop words out, each word kept as its French and its
English Snowball stem (`imprimantes` and `imprimante` -> imprim, imprimant; `printers` -> printer), so that a
request in either language finds tickets and articles written in either. docs/kb.md."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import Stemmer

MAX_QUERY_WORDS = 24  # a long mail is searched by its first distinct words (the subject comes first)
MAX_TEXT = 20_000  # characters of a document indexed
MAX_QUERY_TEXT = 3_000  # characters of a request read for its words
# fold's text is ASCII: every byte but a letter or digit becomes a blank, then split (a third of findall's time)
_NOT_WORD = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789" else 32 for c in range(256))
_LIGATURES = (("œ", "oe"), ("æ", "ae"), ("ß", "ss"))
_STOP = frozenset("""
a au aux avec ce ces cet cette dans de des du elle en et eux il ils je la le les leur lui ma mais me meme mes
moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre
vous c d j l m n s t y est sont ete etre avoir ai as avons avez ont fait faire plus tres bien tout tous toute
toutes aussi comme si donc car alors depuis encore deja quand bonjour merci cordialement salutations madame
monsieur svp stp ca cela ceci voici voila il y peut pouvez pourriez
the of and or to in on at by for from with without is are was were be been being it its this that these those
an as not no do does did have has had we you he she they them our your their my me i us will would can could
should hello hi thanks thank regards best dear please kind sir also just still again since when there here
so if but then than very into out up down about all any some
re tr fw fwd
""".split())


@dataclass(frozen=True, slots=True)
class Query:
    """A request's words, each as its stems: a document has a word when it has one of them."""

    words: tuple[frozenset[str], ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Every stem once, in the words' order: what the database is asked for."""
        return tuple(dict.fromkeys(t for w in self.words for t in sorted(w)))

    def __bool__(self) -> bool:
        return bool(self.words)


def fold(text: str) -> str:
    """Lower case, accents and every other letter outside ASCII off (the words are ASCII letters and digits:
    `œ`, `æ` and `ß` spelt out first). NFKD then an ASCII encoding: eight times faster than a loop over marks."""
    lowered = text[:MAX_TEXT].lower()
    if lowered.isascii():
        return lowered
    for ligature, letters in _LIGATURES:
        lowered = lowered.replace(ligature, letters)
    return unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()


def words(text: str) -> list[str]:
    """The meaningful words of `text`, in order (stop words, single letters and long numbers out)."""
    return [w for w in _split(fold(text)) if _meaningful(w)]


def _split(folded: str) -> list[str]:
    """`re.findall("[a-z0-9]+", folded)`, for fold's ASCII text."""
    return folded.encode("ascii").translate(_NOT_WORD).decode("ascii").split()


def _meaningful(word: str) -> bool:
    return len(word) > 1 and word not in _STOP and not (word.isdigit() and len(word) > 6)


def terms(text: str) -> str:
    """The text as indexed: each word's stems, space-separated, repeated as often as the word is."""
    return " ".join(t for word in words(text) for t in _stems(word))


def query(text: str) -> Query:
    """A request's first MAX_QUERY_WORDS distinct words, each as its stems."""
    distinct = dict.fromkeys(_split(fold(text[:MAX_QUERY_TEXT])))  # each word judged once
    found = [w for w in distinct if _meaningful(w)]
    return Query(tuple(frozenset(_stems(word)) for word in found[:MAX_QUERY_WORDS]))


def coverage(q: Query, indexed: str) -> float:
    """The share of the request's words the document has (0 to 1): the score shown and thresholded."""
    if not q.words:
        return 0.0
    have = set(indexed.split())
    return sum(1 for w in q.words if w & have) / len(q.words)


@functools.lru_cache(maxsize=50_000)  # a desk's vocabulary is small: most words are stemmed once (a few MB)
def _stems(word: str) -> tuple[str, ...]:
    """The word's French stem, then its English one when it differs. New Stemmer objects for each word
    stemmed: one is not safe to share between threads, and the cache makes the cost rare."""
    french, english = Stemmer.Stemmer("french").stemWord(word), Stemmer.Stemmer("english").stemWord(word)
    return (french,) if french == english else (french, english)
