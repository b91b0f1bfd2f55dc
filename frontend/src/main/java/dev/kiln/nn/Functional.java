package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Locations;
import dev.kiln.Tensor;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Ints;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// The operations behind the layers and losses (PyTorch's `torch.nn.functional`), written with
/// tensor methods and, where the tensor API has no method, directly in IR ops through
/// `Tensor.emit`. Each composite here is what the modules record, so a trace shows these ops.
public final class Functional {
    private Functional() {}

    /// `x @ weight^T + bias` over the last dimension (`bias` may be null).
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Tensor y = x.matmul(weight.t());
        return bias == null ? y : y.add(bias);
    }

    /// 2-D cross-correlation as PyTorch's `conv2d`: `x [N,C,H,W]`, `weight [O,C/groups,KH,KW]`,
    /// optional `bias [O]`.
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups) {
        Ints s = pair("stride", stride), p = pair("padding", padding), d = pair("dilation", dilation);
        Tensor y = Tensor.emit("conv2d", (b, v) -> b.conv2d(v.get(0), v.get(1), s, p, d, groups), x, weight);
        if (bias == null) return y;
        return y.add(bias.view(1, -1, 1, 1));
    }

    private static Ints pair(String what, int[] v) {
        if (v.length == 1) return Ints.of(v[0], v[0]);
        if (v.length == 2) return Ints.of(v[0], v[1]);
        throw new KilnException(what + " needs one or two values, got " + Arrays.toString(v));
    }

    /// Max pooling with a square window equal to its stride, dropping the rows and columns that do
    /// not fill a window (PyTorch's floor mode): a reshape into windows and a `reduce_max`.
    public static Tensor maxPool2d(Tensor x, int kernel) {
        if (kernel < 1) throw new KilnException("maxPool2d: kernel size must be positive, got " + kernel);
        if (x.dim() != 4) throw new IrError(Locations.capture(), "'max_pool2d' expects an [N,C,H,W] input, got " + x.type().shape());
        int h = x.size(2), w = x.size(3), oh = h / kernel, ow = w / kernel;
        if (oh == 0 || ow == 0)
            throw new IrError(Locations.capture(), "'max_pool2d' kernel " + kernel + " is larger than the input " + x.type().shape());
        Tensor t = x;
        if (oh * kernel != h) t = t.slice(2, 0, oh * kernel);
        if (ow * kernel != w) t = t.slice(3, 0, ow * kernel);
        List<Dim> dims = new ArrayList<>(List.of(x.type().dim(0), x.type().dim(1), Dim.of(oh), Dim.of(kernel), Dim.of(ow), Dim.of(kernel)));
        TensorType windows = x.type().withShape(new Shape(dims));
        return Tensor.emit("max_pool2d", (b, v) -> b.reduceMax(b.reshape(v.getFirst(), windows), Axes.of(3, 5)), t);
    }

    /// Zeroes each element with probability `p` and scales the rest by `1/(1-p)`, when `training`.
    public static Tensor dropout(Tensor x, double p, boolean training) {
        if (p < 0 || p > 1) throw new KilnException("dropout probability must be in [0, 1], got " + p);
        if (!training || p == 0) return x;
        if (p == 1) return x.mul(0);
        Tensor keep = Tensor.randLike(x).ge(p);
        return Tensor.where(keep, x.mul(1 / (1 - p)), 0.0);
    }

    /// `[..., C]` floats: 1 where the last index equals `target`, else 0 (`target` integer, shape `[...]`).
    public static Tensor oneHot(Tensor target, int classes, DType dtype) {
        if (!target.dtype().isInteger())
            throw new IrError(Locations.capture(), "'one_hot' target has dtype " + target.dtype() + ", expected integer class indices");
        Shape ts = target.type().shape();
        List<Dim> dims = new ArrayList<>(ts.dims());
        dims.add(Dim.of(classes));
        TensorType idx = new TensorType(DType.I64, new Shape(dims));
        return Tensor.emit("one_hot", (b, v) -> {
            Value t = b.broadcast(b.cast(v.getFirst(), DType.I64), Axes.range(ts.rank()), idx);
            return b.cast(b.eq(b.iota(ts.rank(), idx), t), dtype);
        }, target);
    }

    /// Mean (or sum, or none) of per-element losses.
    static Tensor reduce(Tensor losses, Reduction r) {
        return switch (r) {
            case MEAN -> losses.mean();
            case SUM -> losses.sum();
            case NONE -> losses;
        };
    }

    /// Cross-entropy of logits `[N,C]` (or `[C]`) against integer class indices `[N]` (or `[]`).
    public static Tensor crossEntropy(Tensor logits, Tensor target, Reduction r) {
        checkClassTarget("cross_entropy", logits, target);
        return nllLoss(logits.logSoftmax(logits.dim() == 1 ? 0 : 1), target, r);
    }

    /// Negative log-likelihood of log-probabilities `[N,C]` at integer class indices `[N]`.
    public static Tensor nllLoss(Tensor logProbs, Tensor target, Reduction r) {
        checkClassTarget("nll_loss", logProbs, target);
        int classDim = logProbs.dim() == 1 ? 0 : 1;
        Tensor hot = oneHot(target, logProbs.size(classDim), logProbs.dtype());
        if (classDim == 1 && logProbs.dim() > 2) hot = hot.permute(classPermutation(logProbs.dim()));
        return reduce(logProbs.mul(hot).sum(classDim).neg(), r);
    }

    /// Moves the last axis (classes) to axis 1: `[N, d1.., C] -> [N, C, d1..]`.
    private static int[] classPermutation(int rank) {
        int[] p = new int[rank];
        p[0] = 0;
        p[1] = rank - 1;
        for (int i = 2; i < rank; i++) p[i] = i - 1;
        return p;
    }

    private static void checkClassTarget(String op, Tensor input, Tensor target) {
        if (!target.dtype().isInteger())
            throw new IrError(Locations.capture(), "'" + op + "' target has dtype " + target.dtype()
                    + ", expected integer class indices (i64) of shape " + expectedTargetShape(input) + " for input " + input.type().shape());
        if (input.dim() < 1)
            throw new IrError(Locations.capture(), "'" + op + "' input must have a class dimension, got shape " + input.type().shape());
        if (!target.type().shape().equals(expectedTargetShape(input)))
            throw new IrError(Locations.capture(), "'" + op + "' target has shape " + target.type().shape() + ", expected "
                    + expectedTargetShape(input) + " for input " + input.type().shape());
        if (!input.dtype().isFloat())
            throw new IrError(Locations.capture(), "'" + op + "' input has dtype " + input.dtype() + ", expected a float dtype");
    }

    private static Shape expectedTargetShape(Tensor input) {
        if (input.dim() <= 1) return Shape.SCALAR;
        return input.type().shape().without(Axes.of(1));
    }

    /// Mean squared error; `input` and `target` must have one shape.
    public static Tensor mseLoss(Tensor input, Tensor target, Reduction r) {
        sameShape("mse_loss", input, target);
        Tensor d = input.sub(target);
        return reduce(d.mul(d), r);
    }

    /// Huber-like smooth L1: `0.5 d^2 / beta` where `|d| < beta`, else `|d| - 0.5 beta`.
    public static Tensor smoothL1Loss(Tensor input, Tensor target, double beta, Reduction r) {
        sameShape("smooth_l1_loss", input, target);
        Tensor diff = input.sub(target).abs();
        if (beta == 0) return reduce(diff, r);
        return reduce(Tensor.where(diff.lt(beta), diff.pow(2).mul(0.5 / beta), diff.sub(0.5 * beta)), r);
    }

    private static void sameShape(String op, Tensor input, Tensor target) {
        if (!input.type().shape().equals(target.type().shape()))
            throw new IrError(Locations.capture(), "'" + op + "' target has shape " + target.type().shape()
                    + ", incompatible with input " + input.type().shape() + " (they must be equal)");
        if (!target.dtype().isFloat())
            throw new IrError(Locations.capture(), "'" + op + "' target has dtype " + target.dtype() + ", expected a float dtype");
    }
}
