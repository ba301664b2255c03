"""The model contract (:class:`~ganzoo.models.base.ZooModel`) every architecture implements.

The architectures themselves live in :mod:`ganzoo.archs`, one folder per family.
"""
