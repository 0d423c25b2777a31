"""Integrations: what the outbox's events become.

    record write / flow step --(same transaction)--> opsloom_outbox
    worker: dispatch.py   event -> one delivery per subscription that wants it,
                          holding only what the subscription's owner may read
    worker: delivery.py   delivery -> its channel (channels/), at least once,
                          retried with backoff, leased so two workers never send it at once

`events.py` writes the record events (a write-pipeline hook); the flow shell writes
the flow events (runtime/flow/events.py). `subscriptions_api.py` is the HTTP edge.
"""
