package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.kiln.passes.autodiff.GradCheck.*;
import static dev.kiln.passes.autodiff.Models.t;
import static org.junit.jupiter.api.Assertions.*;

/// Gradient checks of the composites the frontend builds from primitives.
class CompositeGradTest {
    static final DType F64 = DType.F64;

    @Test void linear() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 4, 3)), w = b.param("w", t(F64, 3, 5)), bias = b.param("b", t(F64, 5));
        check(weighted(b, "linear", Models.linear(b, x, w, bias)), List.of("x", "w", "b"), Map.of(), 1);
    }

    @Test void conv2dWithBiasPaddingStrideGroupsDilation() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 2, 4, 7, 7)), w = b.param("w", t(F64, 6, 2, 3, 3)), bias = b.param("b", t(F64, 6));
        Value y = b.conv2d(x, w, Ints.of(2, 1), Ints.of(1, 2), Ints.of(2, 1), 2);
        Value z = b.add(y, b.broadcast(bias, Axes.of(1), y.type()));
        check(weighted(b, "conv", b.relu(z)), List.of("x", "w", "b"), Map.of(), 2);
    }

    @Test void maxPool2x2ViaReshapeAndReduceMax() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 2, 3, 4, 6));
        Value windows = b.reshape(x, t(F64, 2, 3, 2, 2, 3, 2));
        Value pooled = b.reduceMax(windows, Axes.of(3, 5));
        Random rng = new Random(3);
        List<NdArray> g = check(weighted(b, "maxpool", pooled), List.of("x"), Map.of("x", distinct(rng, 2, 3, 4, 6)), 3);
        // Each 2x2 window passes its weight to exactly one element (no ties in the input).
        NdArray gx = g.getFirst();
        int nonzero = 0;
        for (int i = 0; i < gx.size(); i++) if (gx.getDouble(i) != 0) nonzero++;
        assertEquals(2 * 3 * 2 * 3, nonzero);
    }

    @Test void reluMlpWithCrossEntropy() {
        Graph f = Models.mlp(F64, 5, 4, 6, 3, Builder::relu);
        check(f, Models.MLP_WEIGHTS, Models.mlpInputs(f, 4), 4);
        check(f, List.of("x"), Models.mlpInputs(f, 5), 5);
    }

    @Test void crossEntropyMatchesSoftmaxMinusOneHot() {
        Builder b = new Builder();
        Value logits = b.param("logits", t(F64, 4, 5)), target = b.param("target", t(DType.I64, 4));
        Graph f = b.build("ce", Models.crossEntropy(b, logits, target));
        Random rng = new Random(6);
        NdArray l = uniform(rng, F64, -3, 3, 4, 5);
        NdArray tg = NdArray.of(new long[]{0, 4, 2, 2}, 4);
        List<NdArray> g = check(f, List.of("logits"), Map.of("logits", l, "target", tg), 6);
        // d/dlogits = (softmax(logits) - one_hot(target)) / N, computed here by hand.
        for (int i = 0; i < 4; i++) {
            double z = 0;
            for (int j = 0; j < 5; j++) z += Math.exp(l.getDouble(i * 5 + j));
            for (int j = 0; j < 5; j++) {
                double expected = (Math.exp(l.getDouble(i * 5 + j)) / z - (tg.getLong(i) == j ? 1 : 0)) / 4;
                assertEquals(expected, g.getFirst().getDouble(i * 5 + j), 1e-12);
            }
        }
    }

    @Test void mean() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 3, 4));
        Graph f = b.build("mean", Models.mean(b, b.mul(x, x)));
        NdArray in = uniform(new Random(7), F64, -1, 1, 3, 4);
        List<NdArray> g = check(f, List.of("x"), Map.of("x", in), 7);
        for (int i = 0; i < 12; i++) assertEquals(2 * in.getDouble(i) / 12, g.getFirst().getDouble(i), 1e-15);
    }

    @Test void smoothL1() {
        // d = x - y; loss = mean(|d| < 1 ? 0.5 d^2 : |d| - 0.5), with |d| kept away from 0 and 1.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 3, 5)), y = b.param("y", t(F64, 3, 5));
        TensorType tt = x.type();
        Value d = b.sub(x, y), a = b.abs(d);
        Value quad = b.mul(b.constant(0.5, tt), b.pow(d, b.constant(2, tt)));
        Value lin = b.sub(a, b.constant(0.5, tt));
        Graph f = b.build("smooth_l1", Models.mean(b, b.select(b.lt(a, b.constant(1, tt)), quad, lin)));
        Random rng = new Random(8);
        NdArray xs = uniform(rng, F64, -1, 1, 3, 5), ys = xs.copy();
        for (int i = 0; i < ys.size(); i++) {
            double mag = i % 2 == 0 ? 0.1 + 0.8 * rng.nextDouble() : 1.1 + rng.nextDouble();
            ys.setDouble(i, xs.getDouble(i) + (rng.nextBoolean() ? mag : -mag));
        }
        check(f, List.of("x", "y"), Map.of("x", xs, "y", ys), 8);
    }

    @Test void pow() {
        // x^y + x^0.5 + 2^x: every operand position of pow, with positive bases.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 2, 3)), y = b.param("y", t(F64, 2, 3));
        TensorType tt = x.type();
        Value s = b.add(b.add(b.pow(x, y), b.pow(x, b.constant(0.5, tt))), b.pow(b.constant(2, tt), x));
        Random rng = new Random(9);
        check(weighted(b, "pow", s), List.of("x", "y"),
                Map.of("x", uniform(rng, F64, 0.3, 2, 2, 3), "y", uniform(rng, F64, -2, 2, 2, 3)), 9);
    }

    @Test void powExponentGradientIsZeroForNonPositiveBase() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 3)), y = b.param("y", t(F64, 3));
        Graph f = b.build("pow", b.reduceSum(b.pow(x, y), Axes.of(0)));
        List<NdArray> out = Interpreter.run(Differentiate.grad(f, List.of("y")),
                List.of(arr(new double[]{-2, 0, 3}, 3), arr(new double[]{2, 2, 2}, 3)));
        assertArrayEquals(new double[]{0, 0, 9 * Math.log(3)}, (double[]) out.getFirst().data(), 1e-12);
    }

    @Test void sharedSubexpressionsAndFanOut() {
        // h = tanh(x @ w) used three times: in two branches and in an elementwise square.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 3, 4)), w = b.param("w", t(F64, 4, 4));
        Value h = b.tanh(b.matmul(x, w));
        Value out = b.add(b.matmul(h, w), b.mul(h, h));
        check(weighted(b, "fanout", out), List.of("x", "w"), Map.of(), 10);
    }

    @Test void auxiliaryResultsPassThrough() {
        // (loss, logits): the loss is differentiated, the logits are returned as they are.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 2, 3)), w = b.param("w", t(F64, 3, 2));
        Value logits = b.matmul(x, w);
        Graph f = b.build("aux", Models.mean(b, b.mul(logits, logits)), logits);
        Graph j = Differentiate.joint(f, List.of("w"));
        assertEquals(List.of("x", "w"), j.paramNames());
        assertEquals(3, j.results().size());
        Map<String, NdArray> in = fill(f, Map.of(), new Random(11));
        List<NdArray> out = Interpreter.run(j, new ArrayList<>(in.values()));
        List<NdArray> ref = Interpreter.run(f, new ArrayList<>(in.values()));
        assertTrue(out.get(1).contentEquals(ref.get(1)));
        check(f, List.of("w"), in, 11);
    }

    @Test void symbolicBatchDimension() {
        // The same model with batch B and with batch 5: identical gradients at B = 5.
        Graph sym = tanhRegression(new TensorType(F64, dev.kiln.ir.Shape.of("B", 3)));
        Graph fixed = tanhRegression(t(F64, 5, 3));
        List<String> wrt = List.of("w", "b");
        Graph js = Differentiate.joint(sym, wrt), jf = Differentiate.joint(fixed, wrt);
        Map<String, NdArray> in = fill(fixed, Map.of(), new Random(12));
        List<NdArray> a = Interpreter.run(js, new ArrayList<>(in.values())), e = Interpreter.run(jf, new ArrayList<>(in.values()));
        for (int i = 0; i < e.size(); i++) assertTrue(e.get(i).contentEquals(a.get(i)), "result #" + i);
        check(fixed, wrt, in, 12);
        Split split = Split.of(js, sym.params().size(), 1);
        assertTrue(split.report().contains("f64[B,4]"), split.report());
    }

    /// `sum(tanh(x @ w + b) * y)` for `x` of type `xt` (`[B,3]`), `y` `[B,4]`.
    static Graph tanhRegression(TensorType xt) {
        Builder b = new Builder();
        Value x = b.param("x", xt), y = b.param("y", xt.withShape(xt.shape().with(1, dev.kiln.ir.Dim.of(4))));
        Value w = b.param("w", t(F64, 3, 4)), bias = b.param("b", t(F64, 4));
        Value h = b.tanh(Models.linear(b, x, w, bias));
        return b.build("regression", b.reduceSum(b.mul(h, y), Axes.of(0, 1)));
    }
}
