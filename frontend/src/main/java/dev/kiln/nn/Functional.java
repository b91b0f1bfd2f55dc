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
    public static Tensor maxPool2d(Tensor x, int kernel) { return pool2d("max_pool2d", x, kernel, kernel, true); }

    /// Average pooling with a square window equal to its stride (PyTorch's `avg_pool2d` with the
    /// default stride, no padding, floor mode): a reshape into windows and a mean.
    public static Tensor avgPool2d(Tensor x, int kernel) { return pool2d("avg_pool2d", x, kernel, kernel, false); }

    /// Average pooling to `outputH x outputW` (PyTorch's `adaptive_avg_pool2d`) where the output
    /// size divides the input's: then every window is `H/outputH x W/outputW`, with that stride.
    /// Other sizes (overlapping windows of varying size) are refused.
    public static Tensor adaptiveAvgPool2d(Tensor x, int outputH, int outputW) {
        checkPoolInput("adaptive_avg_pool2d", x);
        int h = x.size(2), w = x.size(3);
        if (outputH < 1 || outputW < 1 || h % outputH != 0 || w % outputW != 0)
            throw new IrError(Locations.capture(), "'adaptive_avg_pool2d' output size [" + outputH + "," + outputW
                    + "] must divide the input's height and width, got an input " + x.type().shape()
                    + " (only sizes that divide it are supported)");
        return pool2d("adaptive_avg_pool2d", x, h / outputH, w / outputW, false);
    }

    /// Pooling over `kh x kw` windows with stride equal to the window, floor mode: the max, or the mean.
    private static Tensor pool2d(String op, Tensor x, int kh, int kw, boolean max) {
        if (kh < 1 || kw < 1) throw new KilnException(op + ": kernel size must be positive, got " + (kh == kw ? kh : kh + "x" + kw));
        checkPoolInput(op, x);
        int h = x.size(2), w = x.size(3), oh = h / kh, ow = w / kw;
        if (oh == 0 || ow == 0)
            throw new IrError(Locations.capture(), "'" + op + "' kernel " + (kh == kw ? kh : kh + "x" + kw) + " is larger than the input "
                    + x.type().shape());
        Tensor t = x;
        if (oh * kh != h) t = t.slice(2, 0, oh * kh);
        if (ow * kw != w) t = t.slice(3, 0, ow * kw);
        List<Dim> dims = new ArrayList<>(List.of(x.type().dim(0), x.type().dim(1), Dim.of(oh), Dim.of(kh), Dim.of(ow), Dim.of(kw)));
        TensorType windows = x.type().withShape(new Shape(dims));
        if (max) return Tensor.emit(op, (b, v) -> b.reduceMax(b.reshape(v.getFirst(), windows), Axes.of(3, 5)), t);
        return Tensor.emit(op, (b, v) -> b.reshape(v.getFirst(), windows), t).mean(new int[]{3, 5}, false);
    }

    private static void checkPoolInput(String op, Tensor x) {
        if (x.dim() != 4) throw new IrError(Locations.capture(), "'" + op + "' expects an [N,C,H,W] input, got " + x.type().shape());
        if (!op.equals("max_pool2d")) checkFloat(op, x);
    }

    // ---- activations ---------------------------------------------------------------------------

    /// `x` where `x > 0`, else `negativeSlope * x` (PyTorch's `leaky_relu`, default slope 0.01).
    public static Tensor leakyRelu(Tensor x, double negativeSlope) {
        checkFloat("leaky_relu", x);
        return Tensor.where(x.gt(0), x, x.mul(negativeSlope));
    }

    /// `x` where `x > 0`, else `alpha * (exp(x) - 1)` (PyTorch's `elu`, default alpha 1). The
    /// exponential reads `min(x, 0)`, so large positive inputs cannot overflow it (an infinity
    /// there would turn the zero gradient of the unused branch into NaN).
    public static Tensor elu(Tensor x, double alpha) {
        checkFloat("elu", x);
        return Tensor.where(x.gt(0), x, expm1NonPositive(x.minimum(0)).mul(alpha));
    }

    /// `exp(x) - 1` for `x <= 0` without the cancellation of the subtraction near 0: above -0.5,
    /// with `u = exp(x)` rounded, `(u - 1) * x / log(u)` is accurate to a few units in the last
    /// place (Kahan's method; `x` itself where `u == 1`); below, `exp(x) - 1` loses nothing. The
    /// first form reads `max(x, -0.5)`, so its gradient stays finite where it is not used.
    private static Tensor expm1NonPositive(Tensor x) {
        Tensor xk = x.maximum(-0.5), u = xk.exp(), one = u.eq(1);
        Tensor d = Tensor.where(one, 1.0, u.log());
        Tensor near = Tensor.where(one, xk, u.sub(1).mul(xk).div(d));
        return Tensor.where(x.gt(-0.5), near, x.exp().sub(1));
    }

    /// `x * sigmoid(x)` (PyTorch's `silu`, also called swish).
    public static Tensor silu(Tensor x) {
        checkFloat("silu", x);
        return x.mul(x.sigmoid());
    }

    /// GELU, `x * Phi(x)` with `Phi` the standard normal distribution function (PyTorch's `gelu`).
    /// `approximate` is `"tanh"`, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, or `"none"`,
    /// the exact form with `Phi` from the fit behind `erf` below: relative error below 1.2e-7 in
    /// f64; in f32 the rounding of the exponent `-x^2/2` adds up to about `x^2 * 6e-8` relative in
    /// the lower tail (6e-6 at x = -9). Its gradient is the fit's, within 1e-6 of the true
    /// `Phi(x) + x phi(x)`.
    public static Tensor gelu(Tensor x, String approximate) {
        checkFloat("gelu", x);
        return switch (approximate) {
            case "none" -> x.mul(normalCdf(x));
            case "tanh" -> x.mul(x.mul(x).mul(0.044715).add(1).mul(x).mul(Math.sqrt(2 / Math.PI)).tanh().add(1)).mul(0.5);
            default -> throw new KilnException("gelu: approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
        };
    }

    /// `Phi(x) = erfc(-x / sqrt(2)) / 2`, through `erfcAbs` so that the lower tail keeps its
    /// relative precision (`1 + erf` would cancel there).
    private static Tensor normalCdf(Tensor x) {
        Tensor half = erfcAbs(x.mul(Math.sqrt(0.5))).mul(0.5);
        return Tensor.where(x.le(0), half, half.rsub(1));
    }

    /// The error function, `erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt`, composed
    /// from `exp` (there is no erf op): `1 - erfc(|x|)` with the sign of `x`. Its largest absolute
    /// error is below 1.2e-7 (in f64; f32 adds its own rounding), tested against a series.
    public static Tensor erf(Tensor x) {
        checkFloat("erf", x);
        Tensor one = erfcAbs(x).rsub(1);
        return Tensor.where(x.lt(0), one.neg(), one);
    }

    /// `erfc(|x|)` by the Chebyshev fit of Numerical Recipes (section 6.2), relative error below
    /// 1.2e-7 for every x: `t = 1 / (1 + |x|/2)`, `erfc = t exp(-x^2 + P(t))` with P of degree 9.
    /// Nothing overflows: `t` is in (0, 1] and the exponent goes to minus infinity.
    private static Tensor erfcAbs(Tensor x) {
        double[] c = {-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277};
        Tensor z = x.abs(), t = z.mul(0.5).add(1).rdiv(1);
        Tensor poly = t.mul(c[9]);
        for (int k = 8; k >= 1; k--) poly = poly.add(c[k]).mul(t);
        return t.mul(poly.add(c[0]).sub(z.mul(z)).exp());
    }

    /// `log(1 + exp(beta x)) / beta`, and `x` itself where `beta x > threshold` (PyTorch's
    /// `softplus`, defaults beta 1, threshold 20).
    public static Tensor softplus(Tensor x, double beta, double threshold) {
        checkFloat("softplus", x);
        if (!(beta > 0)) throw new KilnException("softplus: beta must be positive, got " + beta);
        Tensor bx = x.mul(beta);
        Tensor soft = log1p(bx.minimum(threshold).exp()).div(beta); // min: the unused branch stays finite
        return Tensor.where(bx.gt(threshold), x, soft);
    }

    /// `log(1 + u)` for `u >= 0` without losing small `u` to the rounding of `1 + u`: with
    /// `w = 1 + u` rounded, `log(w) * u / (w - 1)` is accurate to a few units in the last place
    /// (Goldberg's method), and `u` itself where `w == 1`.
    static Tensor log1p(Tensor u) {
        Tensor w = u.add(1), exact = w.eq(1);
        Tensor d = Tensor.where(exact, 1.0, w.sub(1)); // never 0, so the unused branch's gradient stays finite
        return Tensor.where(exact, u, w.log().mul(u).div(d));
    }

    static void checkFloat(String op, Tensor x) {
        if (!x.dtype().isFloat())
            throw new IrError(Locations.capture(), "'" + op + "' expects a float tensor, got " + x.type());
    }

    // ---- normalization -------------------------------------------------------------------------

    /// Layer normalization over the last dimensions, which must equal `normalizedShape`:
    /// `(x - mean) / sqrt(var + eps) * weight + bias` with the mean and the biased variance of each
    /// slice (PyTorch's `layer_norm`); `weight` and `bias` (null: none) have `normalizedShape`.
    public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        checkFloat("layer_norm", x);
        int k = normalizedShape.length, r = x.dim();
        boolean ok = k >= 1 && k <= r;
        for (int i = 0; ok && i < k; i++) ok = x.type().dim(r - k + i).equals(Dim.of(normalizedShape[i]));
        if (!ok)
            throw new IrError(Locations.capture(), "'layer_norm' expects an input whose last dimensions are "
                    + Arrays.toString(normalizedShape).replace(" ", "") + " (normalized_shape), got " + x.type().shape());
        int[] axes = new int[k];
        for (int i = 0; i < k; i++) axes[i] = r - k + i;
        Tensor centered = x.sub(x.mean(axes, true));
        Tensor y = centered.div(centered.square().mean(axes, true).add(eps).sqrt());
        if (weight != null) y = y.mul(weight);
        return bias == null ? y : y.add(bias);
    }

    /// The mean and the biased variance of `x [N, C, ...]` per channel (over every axis but 1),
    /// each of shape `[C]`, and the number of values per channel as an f64 scalar (computed in the
    /// graph, so that it follows a symbolic batch size).
    record ChannelStats(Tensor mean, Tensor var, Tensor count) {}

    static ChannelStats channelStats(Tensor x) {
        int[] axes = new int[x.dim() - 1];
        axes[0] = 0;
        for (int i = 2; i < x.dim(); i++) axes[i - 1] = i;
        Tensor mean = x.mean(axes, false);
        Tensor var = x.sub(channelView(mean, x.dim())).square().mean(axes, false);
        Tensor perChannel = x.select(1, 0);
        Tensor count = Tensor.emit("count", (b, v) -> b.full(1, v.getFirst().type().withDType(DType.F64)), perChannel).sum();
        return new ChannelStats(mean, var, count);
    }

    /// `[C]` viewed as `[1, C, 1, ...]` to broadcast against a rank-`rank` input.
    static Tensor channelView(Tensor perChannel, int rank) {
        int[] shape = new int[rank];
        Arrays.fill(shape, 1);
        shape[1] = -1;
        return perChannel.view(shape);
    }

    /// Batch normalization of `x [N, C, ...]` with the given per-channel `mean` and `var` (the
    /// batch's in training, the running ones in evaluation, as PyTorch's `batch_norm` picks):
    /// `(x - mean) / sqrt(var + eps) * weight + bias`, `weight` and `bias` `[C]` or null.
    public static Tensor batchNorm(Tensor x, Tensor mean, Tensor var, Tensor weight, Tensor bias, double eps) {
        int r = x.dim();
        Tensor y = x.sub(channelView(mean, r)).div(channelView(var.add(eps).sqrt(), r));
        if (weight != null) y = y.mul(channelView(weight, r));
        return bias == null ? y : y.add(channelView(bias, r));
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

    /// Mean absolute error; `input` and `target` must have one shape.
    public static Tensor l1Loss(Tensor input, Tensor target, Reduction r) {
        sameShape("l1_loss", input, target);
        return reduce(input.sub(target).abs(), r);
    }

    /// Binary cross-entropy of probabilities `input` against `target` (one shape, values in
    /// [0, 1]): `-w (y log x + (1 - y) log(1 - x))`, each log clamped to at least -100 as PyTorch
    /// does, so that a probability of exactly 0 or 1 gives a finite loss. `weight` (null: none)
    /// broadcasts against the elements.
    public static Tensor binaryCrossEntropy(Tensor input, Tensor target, Tensor weight, Reduction r) {
        sameShape("binary_cross_entropy", input, target);
        checkFloat("binary_cross_entropy", input);
        Tensor logP = input.log().maximum(-100), logNotP = input.rsub(1).log().maximum(-100);
        Tensor losses = target.mul(logP).add(target.rsub(1).mul(logNotP)).neg();
        return reduce(weight == null ? losses : losses.mul(weight), r);
    }

    /// Binary cross-entropy of `sigmoid(input)` against `target`, in the numerically stable form
    /// `max(x, 0) - x y + log(1 + exp(-|x|))`: no exponential overflows and no log of 0, whatever
    /// the logits. With `posWeight` p (null: none; broadcast along the last dimension, one weight
    /// per class) the positive term is weighted: `(1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))`.
    public static Tensor binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight, Reduction r) {
        sameShape("binary_cross_entropy_with_logits", input, target);
        checkFloat("binary_cross_entropy_with_logits", input);
        Tensor softTerm = log1p(input.abs().neg().exp());
        Tensor losses = posWeight == null
                ? input.maximum(0).sub(input.mul(target)).add(softTerm)
                : target.rsub(1).mul(input).add(posWeight.sub(1).mul(target).add(1).mul(softTerm.add(input.neg().maximum(0))));
        return reduce(weight == null ? losses : losses.mul(weight), r);
    }

    private static void sameShape(String op, Tensor input, Tensor target) {
        if (!input.type().shape().equals(target.type().shape()))
            throw new IrError(Locations.capture(), "'" + op + "' target has shape " + target.type().shape()
                    + ", incompatible with input " + input.type().shape() + " (they must be equal)");
        if (!target.dtype().isFloat())
            throw new IrError(Locations.capture(), "'" + op + "' target has dtype " + target.dtype() + ", expected a float dtype");
    }
}
