"""The ReadinessCheck API: the spec as frozen dataclasses, its parser, the CRD schema generated
from it, the API's names and enums (defined once, in ``names``), the registry of checks, and the
operator's settings. Pure: no I/O, no kopf, kubernetes or httpx. The bottom layer."""
