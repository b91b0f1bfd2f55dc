package dev.kiln.nn;

/// How a loss turns per-element losses into its result, as PyTorch's `reduction=` argument.
public enum Reduction { MEAN, SUM, NONE }
