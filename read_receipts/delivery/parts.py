"""A courier and what it needs, built from the settings: the same in a request worker and in the courier process."""

from __future__ import annotations

from read_receipts.delivery.courier import Courier
from read_receipts.delivery.webhooks import Webhooks
from read_receipts.delivery.zendesk import DryRun, Zendesk
from read_receipts.intake.spool import Spool
from read_receipts.labels.openers import AddressRanges, Classifier, load_ranges
from read_receipts.settings import Settings
from read_receipts.store import Store


def courier_for(settings: Settings, store: Store, spool: Spool | None, wake=None) -> Courier:
    """A courier posting to Zendesk (or logging, in a dry run), labelling with the shipped ranges and IGNORE_IPS."""
    zendesk = (
        DryRun() if settings.dry_run else Zendesk(settings.zendesk_url, settings.zendesk_auth, settings.zendesk_timeout)
    )
    classifier = Classifier(load_ranges(), AddressRanges(("agent", net) for net in settings.ignore_ips))
    webhooks = Webhooks(store, settings.webhook_urls, settings.webhook_secret, classifier)
    return Courier(store, zendesk, settings, classifier, webhooks=webhooks, spool=spool, wake=wake)
