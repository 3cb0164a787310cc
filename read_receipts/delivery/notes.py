"""The words of the private notes posted on tickets, in the team's language (NOTE_LANGUAGE).

The sentences are gettext messages (catalogs in read_receipts/translations/, see the README's
Development section); dates and times are Babel's, in the language's own style and NOTE_TIMEZONE.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.support import NullTranslations, Translations

from read_receipts.labels import openers
from read_receipts.setting_values import DOMAIN, TRANSLATIONS


@dataclass(frozen=True)
class NamedReply:
    """What a note says of the reply: when it was written and by whom, and who received it."""

    written_at: float | None = None  # the comment's time (Zendesk's), else its send time (the img tag's)
    author: str | None = None
    ccs: int = 0  # people in copy: any of them could have opened it


@dataclass(frozen=True)
class SummedLoads:
    """The loads a summary tells of, by what they were."""

    reads: int  # by a person
    preloads: int  # by Apple Mail Privacy Protection
    machines: int = 0  # by other machines NOTE_KINDS lets through (scanners, prefetches, bots)


class Words:
    """The notes' sentences in one language and time zone."""

    def __init__(self, language: str = "en", zone: str = "UTC"):
        self.locale = Locale.parse(language)
        self.zone = ZoneInfo(zone)
        self.catalog = _catalog(language)

    def first_open(
        self,
        opened_at: float,
        reply: NamedReply,
        kind: str = openers.PERSON,
        client: str = "",
        sent_at: float | None = None,
    ) -> str:
        """Say who or what opened a reply, and when, in words an agent can trust."""
        _ = self.catalog.gettext
        values = {"reply": self._reply(reply), "at": self.when(opened_at), "after": self._after(opened_at, sent_at)}
        named = {**values, "software": f" ({client})" if client else ""}
        if kind == openers.APPLE_PRELOAD:
            return (
                _(
                    "Read receipt: Apple Mail loaded the images of %(reply)s on %(at)s%(after)s. Apple preloads mail "
                    "for privacy, so this shows delivery to Apple Mail, not that anyone read it."
                )
                % values
            )
        if kind == openers.GMAIL_PREFETCH:
            return (
                _(
                    "Read receipt: Gmail prefetched the images of %(reply)s on %(at)s%(after)s. Gmail does this on "
                    "delivery: it is not a person reading."
                )
                % values
            )
        if kind == openers.SCANNER:
            return (
                _(
                    "Read receipt: a security scanner%(software)s loaded the images of %(reply)s on %(at)s%(after)s: "
                    "a mail gateway checking the message, not a person reading."
                )
                % named
            )
        if kind == openers.BOT:
            return (
                _(
                    "Read receipt: an automated client%(software)s loaded the images of %(reply)s on %(at)s%(after)s: "
                    "not a person reading."
                )
                % named
            )
        who = self._who(reply.ccs)
        return _("Read receipt: %(who)s opened %(reply)s%(client)s on %(at)s%(after)s.") % {
            **values,
            "who": who,
            "client": self._in_client(client),
        }

    def more_opens(self, loads: SummedLoads, last_open_at: float, reply: NamedReply) -> str:
        """Summarise the loads of a reply since the last note, saying what they were."""
        _, ngettext = self.catalog.gettext, self.catalog.ngettext
        if not any(_nonzero(loads)):
            return ""
        parts = []
        if loads.reads:
            parts.append(ngettext("read once more by a person", "read %(num)d more times by a person", loads.reads))
        if loads.preloads:
            parts.append(
                ngettext(
                    "preloaded once more by Apple Mail", "preloaded %(num)d more times by Apple Mail", loads.preloads
                )
            )
        if loads.machines:
            parts.append(
                ngettext("loaded once more by a machine", "loaded %(num)d more times by machines", loads.machines)
            )
        counts = [part % {"num": num} for part, num in zip(parts, _nonzero(loads), strict=True)]
        said = (
            counts[0]
            if len(counts) == 1
            else _("%(some)s and %(last)s")
            % {
                "some": ", ".join(counts[:-1]),
                "last": counts[-1],
            }
        )
        return _("Read receipt: %(reply)s was %(loads)s since the last note, most recently on %(at)s.") % {
            "reply": self._reply(reply),
            "loads": said,
            "at": self.when(last_open_at),
        }

    def when(self, timestamp: float) -> str:
        """A moment as this language writes it, with the zone: 'Tue, Dec 1 at 5:58 PM UTC'."""
        moment = datetime.fromtimestamp(timestamp, self.zone)
        return self.catalog.gettext("%(date)s at %(time)s %(zone)s") % {
            **self._day_and_time(moment),
            "zone": moment.tzname(),
        }

    def elapsed(self, seconds: float) -> str:
        """Say a duration the way people do: '45 s', '12 min', '2 h 13 min', '3 d 4 h'."""
        _ = self.catalog.gettext
        seconds = int(max(0, seconds))
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            return (_("%(d)d d %(h)d h") if hours else _("%(d)d d")) % {"d": days, "h": hours}
        if hours:
            return (_("%(h)d h %(m)d min") if minutes else _("%(h)d h")) % {"h": hours, "m": minutes}
        return (_("%(m)d min") % {"m": minutes}) if minutes else (_("%(s)d s") % {"s": secs})

    def _reply(self, reply: NamedReply) -> str:
        """Name the reply as the agent knows it: by its time and author, never by an id agents do not see."""
        _ = self.catalog.gettext
        if reply.written_at is None:
            return _("a reply on this ticket")
        written = _("%(date)s, %(time)s") % self._day_and_time(datetime.fromtimestamp(reply.written_at, self.zone))
        if reply.author:
            return _("your reply of %(time)s, by %(author)s") % {"time": written, "author": reply.author}
        return _("your reply of %(time)s") % {"time": written}

    def _day_and_time(self, moment: datetime) -> dict[str, str]:
        """A moment's day ('Tue, Dec 1') and time ('5:58 PM') in the language's style, with plain spaces."""
        day = format_skeleton("MMMEd", moment, locale=self.locale)
        time = format_time(moment, "short", locale=self.locale)
        # CLDR puts a narrow no-break space before AM/PM: a plain one reads the same and is found by a search
        return {"date": day.replace("\u202f", " "), "time": time.replace("\u202f", " ")}

    def _who(self, ccs: int) -> str:
        """Who could have opened it: the email goes to the requester and everyone in copy, with one pixel."""
        if not ccs:
            return self.catalog.gettext("the requester")
        return self.catalog.ngettext(
            "the requester or the person in copy", "the requester or one of the %(num)d people in copy", ccs
        ) % {"num": ccs}

    def _after(self, opened_at: float, sent_at: float | None) -> str:
        """Say how long after the reply was sent, when the img tag said when that was."""
        if sent_at is None or opened_at < sent_at - 60:  # a clock far off says nothing useful
            return ""
        return self.catalog.gettext(", %(elapsed)s after the reply was sent") % {
            "elapsed": self.elapsed(opened_at - sent_at)
        }

    def _in_client(self, client: str) -> str:
        """Name the client a person read in, and whether it reached us through its image proxy."""
        if not client:
            return ""
        if client in openers.VIA:
            return self.catalog.gettext(" in %(client)s (through its image proxy)") % {"client": client}
        return self.catalog.gettext(" in %(client)s") % {"client": client}


def _nonzero(loads: SummedLoads) -> list[int]:
    """The counts a summary names, in the order it names them."""
    return [count for count in (loads.reads, loads.preloads, loads.machines) if count]


@functools.cache
def _catalog(language: str) -> NullTranslations:
    """The compiled catalog of a language (English, the messages' own language, needs none)."""
    return Translations.load(str(TRANSLATIONS), [language], DOMAIN)


@functools.cache
def words(language: str, zone: str) -> Words:
    """The notes' words for a language and zone, built once."""
    return Words(language, zone)


def elapsed(seconds: float) -> str:
    """Say a duration in English, the way people do: '45 s', '12 min', '2 h 13 min', '3 d 4 h'."""
    return words("en", "UTC").elapsed(seconds)
