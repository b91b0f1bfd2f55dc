package dev.kiln.nn;

/// Batch normalization of `[N, C]` or `[N, C, L]` per channel, PyTorch's `BatchNorm1d` (defaults eps
/// 1e-5, momentum 0.1, affine, with running statistics; a null momentum gives a cumulative
/// average); see `BatchNorm`.
public class BatchNorm1d extends BatchNorm {
    public BatchNorm1d(int numFeatures) { this(numFeatures, 1e-5, 0.1, true, true); }

    public BatchNorm1d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, affine, trackRunningStats);
    }

    @Override protected boolean acceptsRank(int rank) { return rank == 2 || rank == 3; }

    @Override protected String expectedShape() { return "[N,C] or [N,C,L]"; }
}
