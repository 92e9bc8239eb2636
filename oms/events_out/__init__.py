"""Events out: what the OMS tells partners' endpoints, and how.

Facts are written to an outbox by PostgreSQL itself (triggers on the timeline, alerts and
stock, created by migration 0008), in the very statement that writes the fact, so an event
is never lost nor invented. Deliveries follow Standard Webhooks (signing in ``signing``),
to addresses checked against SSRF (``ssrf``), on a published retry schedule
(``schedule``). The event types and the body of each are in ``catalogue``.
"""
