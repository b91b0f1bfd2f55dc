package dev.kiln.optim;

import dev.kiln.KilnException;

/// Decays the learning rate by `gamma` every `stepSize` epochs (PyTorch's `StepLR`, default
/// gamma 0.1): `lr = base * gamma^floor(epoch / stepSize)`.
public class StepLR extends LRScheduler {
    public final int stepSize;
    public final double gamma;

    public StepLR(Optimizer optimizer, int stepSize) { this(optimizer, stepSize, 0.1); }

    public StepLR(Optimizer optimizer, int stepSize, double gamma) {
        super(optimizer);
        if (stepSize < 1) throw new KilnException("StepLR: stepSize must be at least 1, got " + stepSize);
        if (!(gamma >= 0)) throw new KilnException("StepLR: gamma must be non-negative, got " + gamma);
        this.stepSize = stepSize;
        this.gamma = gamma;
    }

    @Override protected double lrAt(int epoch) { return baseLr() * Math.pow(gamma, epoch / stepSize); }
}
