"""Learning channel directions for a generator: labels, classifiers, calibration, the recipes."""
