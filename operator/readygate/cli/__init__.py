"""The ``readygate`` command's front ends: ``main`` (run, crd, load, check) and ``check`` (a
ReadinessCheck file checked against a URL outside any cluster)."""
