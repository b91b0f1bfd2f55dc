package dev.kiln.optim;

import dev.kiln.KilnException;

/// Anneals the learning rate from its base value to `etaMin` along half a cosine over `tMax`
/// epochs (PyTorch's `CosineAnnealingLR`, default etaMin 0):
/// `lr = etaMin + (base - etaMin) * (1 + cos(pi * epoch / tMax)) / 2`. Past `tMax` the cosine
/// continues (the rate rises again), as in PyTorch. This is the closed form; PyTorch's step-by-step
/// form gives the same values while nothing else changes the learning rate.
public class CosineAnnealingLR extends LRScheduler {
    public final int tMax;
    public final double etaMin;

    public CosineAnnealingLR(Optimizer optimizer, int tMax) { this(optimizer, tMax, 0); }

    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin) {
        super(optimizer);
        if (tMax < 1) throw new KilnException("CosineAnnealingLR: tMax must be at least 1, got " + tMax);
        if (!(etaMin >= 0)) throw new KilnException("CosineAnnealingLR: etaMin must be non-negative, got " + etaMin);
        this.tMax = tMax;
        this.etaMin = etaMin;
    }

    @Override protected double lrAt(int epoch) {
        return etaMin + (baseLr() - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
    }
}
