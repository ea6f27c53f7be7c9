"""The ``metrics.json`` payload of every workflow: the contract between workflows, dashboards and the index.

A workflow's ``report.publish`` writes its payload as the schema here says
(:class:`galaxy_lib.core.metrics.RunMetrics` is the envelope); every consumer
reads it back through the same class with
:func:`galaxy_lib.core.metrics.read_metrics`::

    from galaxy_lib.core.metrics import read_metrics
    from galaxy_lib.schemas.mmm import MMMMetrics

    run = read_metrics("reports/mmm/20261130T060000Z-3d8d49", MMMMetrics)
    run.metrics.channels["tv"].roi_mean

The schemas live in their own package, not in the workflows, because workflows
never import each other: the MTA calibrates to an MMM run through
:class:`~galaxy_lib.schemas.mmm.MMMMetrics`, not through ``galaxy_lib.mmm``.
"""

from galaxy_lib.schemas.inventory import InventoryMetrics
from galaxy_lib.schemas.mmm import MMMMetrics
from galaxy_lib.schemas.mta import MtaMetrics

__all__ = ["InventoryMetrics", "MMMMetrics", "MtaMetrics"]
