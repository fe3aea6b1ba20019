"""Outbound notifications through Apprise (docs/notifications.md).

    targets     an Apprise URL: checked by Apprise's parser, its kind, masking of its secrets in any text
    route_set   the routes as the event hooks read them (compiled, cached) and the NOTIFY_URLS targets
    events      the event kinds and the hooks that queue deliveries, in the event's own transaction
    routes      routes admins keep (URL encrypted, write-only), the "environment" route, Send test
    queue       the worker's side of the delivery queue: claim (SKIP LOCKED), throttle, finish
    deliveries  the deliveries as admins read them, and Retry
    messages    a message and its rendering as text, Markdown or HTML, alert text escaped
    compose     a delivery's message from the rows it is about, with links (PUBLIC_URL)
    delivery    one attempt through Apprise, in a thread of its own pool, with a timeout
    worker      the lifespan task that runs the queue

Apprise is imported only where a URL is checked or a message sent, never on the webhook's path.
"""
