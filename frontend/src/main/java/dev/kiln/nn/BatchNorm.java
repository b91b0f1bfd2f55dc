package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Locations;
import dev.kiln.Tensor;
import dev.kiln.ir.IrError;
import dev.kiln.runtime.DType;

import java.util.LinkedHashMap;
import java.util.Map;

/// Batch normalization over the channels (axis 1) of `[N, C, ...]`, with PyTorch's semantics
/// (its `_BatchNorm`; use `BatchNorm1d` or `BatchNorm2d`):
///
/// - training mode, or no running statistics: normalize with the batch's per-channel mean and
///   biased variance, `(x - mean) / sqrt(var + eps) * weight + bias`;
/// - training with running statistics: also update the buffers, `num_batches_tracked += 1`,
///   `running_mean = (1 - f) * running_mean + f * mean`, the same for `running_var` with the
///   *unbiased* variance (times `n / (n - 1)`, n values per channel), where the factor `f` is
///   `momentum`, or with `momentum` null `1 / num_batches_tracked` (a cumulative average);
/// - evaluation with running statistics: normalize with `running_mean` and `running_var`.
///
/// The buffers are in the state dict (`bn.running_mean`, ...), so they are saved, loaded and
/// checkpointed with the weights. An eager training-mode forward computes their new values at
/// once (one extra graph run up to this layer), so that the buffers never hold a chain of pending
/// graphs, one per step, with each step's activations. A compiled train step updates them as an
/// eager step does (they are extra results of its graph); a compiled forward pass needs eval mode.
public abstract class BatchNorm extends Module {
    public final int numFeatures;
    public final double eps;
    /// The running statistics' update factor, or null for a cumulative average (PyTorch's `momentum=None`).
    public final Double momentum;
    public final boolean affine, trackRunningStats;
    public final Tensor weight, bias, runningMean, runningVar, numBatchesTracked;

    protected BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        String name = getClass().getSimpleName();
        if (numFeatures < 1) throw new KilnException(name + ": numFeatures must be positive, got " + numFeatures);
        if (!(eps >= 0)) throw new KilnException(name + ": eps must be non-negative, got " + eps);
        if (momentum != null && !(momentum >= 0 && momentum <= 1))
            throw new KilnException(name + ": momentum must be in [0, 1] (or null), got " + momentum);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.weight = affine ? registerParameter("weight", Tensor.ones(numFeatures)) : null;
        this.bias = affine ? registerParameter("bias", Tensor.zeros(numFeatures)) : null;
        this.runningMean = trackRunningStats ? registerBuffer("running_mean", Tensor.zeros(numFeatures)) : null;
        this.runningVar = trackRunningStats ? registerBuffer("running_var", Tensor.ones(numFeatures)) : null;
        this.numBatchesTracked = trackRunningStats ? registerBuffer("num_batches_tracked", Tensor.scalar(0L)) : null;
    }

    /// Whether an input of this rank is one the subclass normalizes.
    protected abstract boolean acceptsRank(int rank);

    /// The accepted input shapes, for messages.
    protected abstract String expectedShape();

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            String name = getClass().getSimpleName();
            if (!acceptsRank(x.dim()))
                throw new IrError(Locations.capture(), "'batch_norm' " + name + " expects an input " + expectedShape() + ", got "
                        + x.type().shape());
            if (x.size(1) != numFeatures)
                throw new IrError(Locations.capture(), "'batch_norm' " + name + "(" + numFeatures + ") expects " + numFeatures
                        + " channels (axis 1), got an input " + x.type().shape());
            Functional.checkFloat("batch_norm", x);
            if (!isTraining() && trackRunningStats) return Functional.batchNorm(x, runningMean, runningVar, weight, bias, eps);
            if (x.numel() / numFeatures <= 1)   // while tracing, numel uses the example's batch size
                throw new IrError(Locations.capture(), "'batch_norm' " + name + " expects more than 1 value per channel when "
                        + "training, got an input " + x.type().shape());
            var stats = Functional.channelStats(x);
            if (isTraining() && trackRunningStats) {
                Tensor n = stats.count();
                Tensor unbiased = stats.var().mul(n.div(n.sub(1)).to(stats.var().dtype()));
                Tensor tracked = numBatchesTracked.add(1);
                // the factor as PyTorch computes it: a Java double, or 1/num_batches_tracked in f64
                Tensor f = momentum != null ? Tensor.scalar(momentum.doubleValue()) : tracked.to(DType.F64).rdiv(1);
                Tensor keep = f.rsub(1).to(runningMean.dtype()), take = f.to(runningMean.dtype());
                Map<String, Tensor> updates = new LinkedHashMap<>();
                updates.put("running_mean", runningMean.mul(keep).add(stats.mean().mul(take)));
                updates.put("running_var", runningVar.mul(keep).add(unbiased.mul(take)));
                updates.put("num_batches_tracked", tracked);
                updateBuffers(updates);
            }
            return Functional.batchNorm(x, stats.mean(), stats.var(), weight, bias, eps);
        }
    }

    @Override protected String extraRepr() {
        return numFeatures + ", eps=" + eps + ", momentum=" + (momentum == null ? "None" : momentum) + ", affine=" + (affine ? "True" : "False")
                + ", track_running_stats=" + (trackRunningStats ? "True" : "False");
    }
}
