"""An online log template miner: Drain's fixed-depth grouping, with masking that still matches.

A message is masked (numbers with what is glued to them: units, IPs with
ports, timestamps, hex ids; a run of them is one ``MASK``) and split on
whitespace; paths, booleans, HTTP methods and day and month names are values
too. Templates of the same token count whose first ``prefix`` tokens
agree (a token with a digit, or a dotted name, counts as any) are candidates; the message joins
the candidate it shares the most tokens with, if that share is at least
``sim_th``, and the template's differing tokens become ``WILD``. Unlike Drain
fed ``<*>``-masked text, a masked token equals a masked token, so lines that
are mostly parameters join their template instead of each opening one.

One rule Drain lacks: once a template has ``settle`` lines, a word (no digit)
that all of them had is a constant, and a line with another word there is
another template (``... HTTPS`` and ``... SOCKS5``; ``client WindowsUpdateAgent``
and ``client SPP``). Two templates never widen into one text: a line that
agrees with a template on ``sim_th`` of its tokens joins it (or, if settled,
differs on a word the template can never widen), so there is nothing to merge.

A line seen recently, raw or masked, maps straight to its template (the fast
path: most lines repeat a known shape). Template ids are
``stable_id`` of the founding masked text: lines whose variable parts are all
masked get the same id in any process and any order.
"""

import re
from collections.abc import Container
from dataclasses import dataclass

from alertflow.operators.ids import stable_id
from alertflow.operators.restorable import Restorable

# The grid point best over the development systems (eight Loghub systems and the simulator's
# logs), as bench/logs.py's leave-one-system-out cross-validation chooses; its out-of-fold GA
# is the estimate for systems not seen.
SIM_TH = 0.8
PREFIX = 1
SETTLE = 10

PARAM = "<*>"  # how a parameter is written in templates shown to people
MASK = "\x1a"  # a masked parameter inside the miner: equal to another masked parameter
WILD = "\x1b"  # a position where the template's lines differed: matches anything
_DIGIT = re.compile(r"\d")
_VARIES = re.compile(r"\d|\w\.\w+\.\w")  # a digit, or a dotted name (com.apple.x, a.b.com)

_UNIT = r"(?:[KMGTP]i?B|bytes|ms|sec|secs|seconds|mins|minutes|hours|days)"
# Every alternative starts at a digit (or a '-' or hex letter before one), so the regex engine
# skips the rest of the line fast. A number is a parameter with what is glued to it (unit,
# fraction, port, path: 250ms 10.0.0.7:5432 2/3 0x7ffe 4.10), not a word's tail (wl0, v1.2,
# auth-2); a run of such tokens is one parameter (a date: Jul 24 02:38:22 2005), and so is a
# size with its unit and restatement (2034 bytes (1.98 KB)).
_VALUE = (
    r"[\w%]*(?:[.:/\-][\w%]+)*"
    rf"(?: {_UNIT}(?=[\s,;.)]|$))?(?: \(\d[\d.]* ?{_UNIT}\))?"
)
# Words that are values: day and month names beside a time (Sun Jul 24 02:38:22 2005), and
# HTTP methods, which with a path name the request a service logs about (GET /cart).
_VALUE_WORDS = frozenset(
    {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May"}
    | {"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
    | {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
)
# Booleans, nulls, and paths (/cart, /private/var/run/x.sock) are values too.
_VALUE_TEXT = re.compile(
    r"(?<![\w.\-])(?:true|false|null)(?![\w.\-])|(?<![\w.])/[\w.\-]+(?:/[\w.\-]+)*"
)
_MASK = re.compile(
    rf"(?:\d(?<![\w.\-]\d)|[-<]\d(?<![\w.\-][-<]\d)"
    rf"|[a-fA-F](?=[0-9a-fA-F]{{7}})(?<![\w.\-][a-fA-F])(?=[a-fA-F]*\d))"
    rf"{_VALUE}(?: +-?\d{_VALUE})*"
)


def mask(message: str) -> str:
    """The message with its parameters as ``MASK`` (shown as ``<*>``).

    >>> show(mask("timeout 250ms 10.0.0.7:5432 via /10.0.0.9 after 2034 bytes (1.98 KB), v1.2"))
    'timeout <*> via <*> after <*>, v1.2'
    """
    masked = _MASK.sub(MASK, message)
    # The '/' Java writes before an IP address is part of the parameter.
    return masked.replace(" /" + MASK, " " + MASK) if "/" + MASK in masked else masked


def show(text: str) -> str:
    """Template text for people: masked and wildcard positions as ``<*>``."""
    return text.replace(MASK, PARAM).replace(WILD, PARAM)


@dataclass(slots=True, eq=False)
class Template(Restorable):
    """A group of lines: its tokens (``WILD`` where they differed) and how many joined."""

    template_id: str
    tokens: list[str]
    key: tuple[str, ...]  # where it sits in the miner's index
    text: str  # the tokens joined
    count: int = 0  # lines that joined

    def template(self) -> str:
        """The template as people read it, parameters as ``<*>``."""
        return show(self.text)


class TemplateMiner:
    """Groups messages into templates online, holding at most ``max_templates``.

    >>> miner = TemplateMiner()
    >>> a = miner.add("timeout 250ms 10.0.0.7:5432")
    >>> b = miner.add("timeout 1.5s 10.0.0.8:5432")
    >>> a is b, a.template(), a.count
    (True, 'timeout <*>', 2)
    """

    def __init__(
        self,
        sim_th: float = SIM_TH,
        prefix: int = PREFIX,
        settle: int = SETTLE,
        max_templates: int = 1000,
        max_cache: int = 1024,
    ) -> None:
        self.sim_th = sim_th
        self.prefix = prefix
        self.settle = settle  # 0: never
        self.max_templates = max_templates
        self.max_cache = max_cache
        self.templates: dict[str, Template] = {}  # by id, least recently seen first
        self.index: dict[tuple[str, ...], list[Template]] = {}
        self.cache: dict[str, Template] = {}  # masked line -> the template it joined
        # Raw line -> the same: only saves masking (the masked entry gives the same template),
        # so it is left out of snapshots.
        self.seen: dict[str, Template] = {}
        self.dropped: list[str] = []  # ids evicted; the caller may clear it

    def add(self, message: str, keep: Container[str] = ()) -> Template:
        """Fold one message in and return its template.

        ``keep``: ids of templates never evicted to make room (e.g. in a live burst).
        """
        templates = self.templates
        tpl = self.seen.get(message)  # the same message again: no masking at all
        if tpl is None or templates.get(tpl.template_id) is not tpl:  # (inlined _cached)
            masked = mask(message)
            tpl = self.cache.get(masked)
            if tpl is None or templates.get(tpl.template_id) is not tpl:
                tokens = _tokens(masked)
                key = self._key(tokens)
                tpl = self._best(self.index.get(key, ()), tokens)
                if tpl is None:
                    tpl = self._found(tokens, key, keep)
                else:
                    self._widen(tpl, tokens)
                if len(self.cache) >= self.max_cache:
                    self.cache.clear()  # cheaper than an LRU; it refills with lines that repeat
                self.cache[masked] = tpl
            if len(self.seen) >= self.max_cache:
                self.seen.clear()
            self.seen[message] = tpl
        tpl.count += 1
        del templates[tpl.template_id]  # most recently seen last
        templates[tpl.template_id] = tpl
        return tpl

    def match(self, message: str) -> Template | None:
        """The template a message would join now, without learning from it."""
        tpl = self._cached(self.seen, message)
        if tpl is None:
            masked = mask(message)
            tpl = self._cached(self.cache, masked)
            if tpl is None:
                tokens = _tokens(masked)
                tpl = self._best(self.index.get(self._key(tokens), ()), tokens)
        return tpl

    def __getstate__(self) -> dict:
        """Pickled without ``seen``: it only saves work."""
        return {**self.__dict__, "seen": {}}

    def _cached(self, cache: dict[str, Template], text: str) -> Template | None:
        tpl = cache.get(text)
        if tpl is None:
            return None
        return tpl if self.templates.get(tpl.template_id) is tpl else None

    def _key(self, tokens: list[str]) -> tuple[str, ...]:
        # A token with a digit, a mask or dotted name is likely a parameter: it must not route.
        head = tokens[: self.prefix]
        return (str(len(tokens)), *("" if _VARIES.search(t) or MASK in t else t for t in head))

    def _best(self, candidates: list[Template] | tuple, tokens: list[str]) -> Template | None:
        best, best_sim, n = None, -1.0, len(tokens) or 1
        for tpl in candidates:
            same = wild = 0
            for t, w in zip(tpl.tokens, tokens, strict=True):
                if t == w:
                    same += 1
                elif t == WILD:
                    wild += 1
            sim = same / n
            if sim <= best_sim:
                continue
            pairs = zip(tpl.tokens, tokens, strict=True)
            if (
                self.settle
                and tpl.count >= self.settle
                and same + wild < n
                and any(t != w and t != WILD and _is_word(t) for t, w in pairs)
            ):
                continue  # it would widen a settled constant word: another template
            best, best_sim = tpl, sim
        return best if best_sim >= self.sim_th else None

    def _widen(self, tpl: Template, tokens: list[str]) -> None:
        """Make the template's tokens that differ from the line's ``WILD``."""
        if tpl.text != " ".join(tokens):
            tpl.tokens = [t if t == w else WILD for t, w in zip(tpl.tokens, tokens, strict=True)]
            tpl.text = " ".join(tpl.tokens)

    def _found(self, tokens: list[str], key: tuple[str, ...], keep: Container[str]) -> Template:
        text = " ".join(tokens)
        # No live template has this id: its founding line, were it live, would have matched
        # it (a template keeps the line's tokens where it has constants, sim_th of them).
        tpl = Template(stable_id(text)[:16], tokens, key, text)
        self.templates[tpl.template_id] = tpl
        self.index.setdefault(key, []).append(tpl)
        if len(self.templates) > self.max_templates:
            self._evict(tpl, keep)
        return tpl

    def _evict(self, newest: Template, keep: Container[str]) -> None:
        """Drop the rarest of the 8 least recently seen templates not kept.

        Only if every other template is kept does the least recently seen go anyway:
        the bound holds.
        """
        victims = []
        for tid, tpl in self.templates.items():
            if tpl is not newest and tid not in keep:
                victims.append(tpl)
                if len(victims) == 8:
                    break
        if victims:
            self._drop(min(victims, key=lambda t: t.count))
        else:
            self._drop(next(iter(self.templates.values())))

    def _drop(self, tpl: Template) -> None:
        del self.templates[tpl.template_id]
        bucket = self.index[tpl.key]
        bucket.remove(tpl)
        if not bucket:
            del self.index[tpl.key]
        self.dropped.append(tpl.template_id)
        if len(self.dropped) > self.max_templates:  # if nobody clears it: keep the newest
            del self.dropped[: -self.max_templates]


def _tokens(masked: str) -> list[str]:
    # Only the slow path (a line not in the cache) pays for the words that are values.
    return [MASK if t in _VALUE_WORDS else t for t in _VALUE_TEXT.sub(MASK, masked).split()]


def _is_word(token: str) -> bool:
    return MASK not in token and not _VARIES.search(token)
