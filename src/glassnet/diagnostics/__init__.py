"""Training health: per-layer statistics of a model (``stats``) and the record a run keeps of them (``record``).

The statistics only read the model, so they can be taken between any two training steps; the
record is what the live training view and the training-health notebook read.
"""

from glassnet.diagnostics.stats import (
    RULE_OF_THUMB,
    ActivationStats,
    activation_stats,
    batchnorm_ranges,
    first_layer_change,
    gradient_norms,
    saliency,
    snapshot,
    update_ratios,
)

__all__ = ["RULE_OF_THUMB", "ActivationStats", "activation_stats", "batchnorm_ranges", "first_layer_change",
           "gradient_norms", "saliency", "snapshot", "update_ratios"]
