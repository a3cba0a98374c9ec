"""kopf wiring and control: ``handlers`` (the only place kopf's decorators live), ``supervisor``
(one loop per check), ``plan`` (what the supervisor does next; pure) and ``namespaces`` (a kopf
namespace-discovery fix). The top layer."""
