"""The human feedback loop's judge side: how far an evaluator version agrees with people's
labels in a project (:mod:`.agreement`), the labelled items that agreement is computed on
(:mod:`.labels`), and project calibrations fitted on those labels (:mod:`.recalibration`),
versioned in the metadata DB and applied by later sampling runs (:mod:`.calibrations`)."""
