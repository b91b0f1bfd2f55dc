package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

/// Small models written the way the frontend traces them (composites of primitives), for the
/// composite, second-order, split and golden tests.
final class Models {
    private Models() {}

    static TensorType t(DType d, long... shape) { return new TensorType(d, Shape.of(shape)); }

    /// `x @ w + broadcast(b)`: a linear layer.
    static Value linear(Builder b, Value x, Value w, Value bias) {
        Value y = b.matmul(x, w);
        return b.add(y, b.broadcast(bias, Axes.of(1), y.type()));
    }

    /// Mean over all elements: `reduce_sum(x) * (1/n)`.
    static Value mean(Builder b, Value x) {
        Value s = b.reduceSum(x, Axes.range(x.type().rank()));
        return b.mul(s, b.constant(1.0 / x.type().shape().numel(), s.type()));
    }

    /// Cross-entropy of `logits [N,K]` against integer classes `target [N]`, averaged over N:
    /// `logsumexp(logits) - sum(one_hot(target) * logits)`, the one-hot made with
    /// `eq(iota, broadcast(target))`, logsumexp stabilised with the row maximum.
    static Value crossEntropy(Builder b, Value logits, Value target) {
        TensorType lt = logits.type();
        long n = lt.dim(0).size();
        TensorType it = lt.withDType(target.type().dtype());
        Value m = b.reduceMax(logits, Axes.of(1));
        Value shifted = b.sub(logits, b.broadcast(m, Axes.of(0), lt));
        Value lse = b.add(b.log(b.reduceSum(b.exp(shifted), Axes.of(1))), m);
        Value hot = b.eq(b.iota(1, it), b.broadcast(target, Axes.of(0), it));
        Value oneHot = b.select(hot, b.constant(1.0, lt), b.constant(0.0, lt));
        Value picked = b.reduceSum(b.mul(oneHot, logits), Axes.of(1));
        Value total = b.reduceSum(b.sub(lse, picked), Axes.of(0));
        return b.mul(total, b.constant(1.0 / n, total.type()));
    }

    static final List<String> MLP_WEIGHTS = List.of("fc1.w", "fc1.b", "fc2.w", "fc2.b");

    /// A two-layer perceptron with cross-entropy loss: params `%x [n,d]`, `%target i64[n]`,
    /// `%fc1.w [d,h]`, `%fc1.b [h]`, `%fc2.w [h,k]`, `%fc2.b [k]`; result: the scalar loss.
    static Graph mlp(DType d, int n, int in, int hidden, int k, BiFunction<Builder, Value, Value> activation) {
        Builder b = new Builder();
        Value x = b.param("x", t(d, n, in)), target = b.param("target", t(DType.I64, n));
        Value w1 = b.param("fc1.w", t(d, in, hidden)), b1 = b.param("fc1.b", t(d, hidden));
        Value w2 = b.param("fc2.w", t(d, hidden, k)), b2 = b.param("fc2.b", t(d, k));
        Value h = activation.apply(b, linear(b, x, w1, b1));
        return b.build("mlp", crossEntropy(b, linear(b, h, w2, b2), target));
    }

    /// Random inputs for `mlp`: normal-ish floats, classes in [0, k).
    static Map<String, NdArray> mlpInputs(Graph mlp, long seed) {
        Random rng = new Random(seed);
        Map<String, NdArray> in = new LinkedHashMap<>();
        for (Value p : mlp.params()) {
            String name = Differentiate.name(p);
            int[] s = GradCheck.shape(p);
            if (p.type().dtype() == DType.I64) {
                long k = mlp.param("fc2.b").type().dim(0).size();
                NdArray a = NdArray.zeros(DType.I64, s);
                for (int i = 0; i < a.size(); i++) a.setLong(i, rng.nextInt((int) k));
                in.put(name, a);
            } else in.put(name, GradCheck.uniform(rng, p.type().dtype(), -1, 1, s));
        }
        return in;
    }
}
