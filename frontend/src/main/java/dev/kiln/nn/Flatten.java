package dev.kiln.nn;

import dev.kiln.Tensor;

/// Merges dimensions `startDim..endDim` (default: all but the batch dimension).
public class Flatten extends Module {
    public final int startDim, endDim;

    public Flatten() { this(1, -1); }

    public Flatten(int startDim, int endDim) {
        this.startDim = startDim;
        this.endDim = endDim;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return x.flatten(startDim, endDim);
        }
    }

    @Override protected String extraRepr() { return "start_dim=" + startDim + ", end_dim=" + endDim; }
}
