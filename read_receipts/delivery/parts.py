"""A courier and what it needs, built from the settings: the same in a request worker and in the courier process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from read_receipts.delivery.courier import POLL_MAX_SECONDS, Courier, Wake
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.delivery.zendesk import DryRun, Zendesk, ZendeskClient
from read_receipts.intake.spool import Spool
from read_receipts.labels.openers import AddressRanges, Classifier, load_ranges
from read_receipts.settings import Settings
from read_receipts.store import Stores


def zendesk_for(settings: Settings) -> ZendeskClient:
    """The Zendesk account of the settings, or a dry run that logs notes when no credentials are set."""
    if settings.dry_run:
        return DryRun()
    return Zendesk(settings.zendesk_url, settings.zendesk_auth, settings.zendesk_timeout)


def courier_for(
    settings: Settings,
    stores: Stores,
    spool: Spool | None,
    wake: Wake | None = None,
    poll_max: float = POLL_MAX_SECONDS,
    on_busy: Callable[[], None] | None = None,
    rest_when_behind: bool = True,
) -> Courier:
    """A courier posting to Zendesk (or logging, in a dry run), labelling with the shipped ranges and IGNORE_IPS."""
    ranges = load_ranges(local=Path(settings.local_ranges_dir))
    classifier = Classifier(ranges, AddressRanges(("agent", net) for net in settings.ignore_ips))
    webhooks = Webhooks(
        stores.webhooks,
        stores.dead_letters,
        settings.webhook_urls,
        settings.webhook_secret,
        classifier,
        settings.webhook_batch_size,
    )
    return Courier(
        stores,
        zendesk_for(settings),
        settings,
        classifier,
        webhooks=webhooks,
        spool=spool,
        wake=wake,
        poll_max=poll_max,
        on_busy=on_busy,
        rest_when_behind=rest_when_behind,
    )
