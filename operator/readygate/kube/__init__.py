"""Kubernetes: ``client`` (every API call, off the event loop; the only module that imports
``kubernetes``), ``manifests`` (pure builders of the objects readygate creates) and ``podstate``
(pure readers of pod status)."""
