"""Which namespaces a glob ``--namespace`` serves: kopf's discovery, with one gap closed.

kopf (1.45) finds the namespaces matching a pattern in two steps: its namespace observer lists
them once, then starts a watch whose own initial listing is replayed as type-``None`` events,
and the observer ignores those. A namespace created between the two listings, or while the
watch is being re-established after "410 Gone" (which lists again), is therefore never served
until something modifies it, typically its deletion. Measured here: a namespace created as the
operator started had no verdict for 180 s, until the test deleted it.

Instead of rewriting kopf's processor, :func:`apply_namespace_event` hands those listed
namespaces to it as ``ADDED`` events: kopf then makes the very revision it makes from its own
first listing (add what matches and is not being deleted), which is idempotent. Only glob
patterns need it: exact names and the cluster-wide mode do no namespace discovery at all.
"""

from __future__ import annotations

from typing import Any

from kopf._core.reactor import observation

# kopf's own processor, taken once at import (a kopf without it fails here, loudly, instead
# of silently serving fewer namespaces); install() replaces the module attribute, not this.
_kopf_processor = observation.process_discovered_namespace_event


async def apply_namespace_event(*, raw_event: Any, **kwargs: Any) -> None:
    """kopf's namespace-event processor, with listed (type ``None``) namespaces as ``ADDED``."""
    if raw_event["type"] is None:
        raw_event = {**raw_event, "type": "ADDED"}
    await _kopf_processor(raw_event=raw_event, **kwargs)


def install() -> None:
    """Route kopf's namespace watch through :func:`apply_namespace_event`.

    kopf looks the processor up by name each time it (re)starts the namespace watch, so
    replacing the module attribute before ``kopf.run`` is enough.
    """
    observation.process_discovered_namespace_event = apply_namespace_event
