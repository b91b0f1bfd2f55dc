package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;

import static dev.kiln.passes.autodiff.GradCheck.*;
import static dev.kiln.passes.autodiff.Models.t;
import static org.junit.jupiter.api.Assertions.*;

/// Gradients of gradients: `joint` applied to a graph that `grad` made.
class SecondOrderTest {
    static final DType F64 = DType.F64;
    static final double[] XS = {1, 2, -3, 0.5, 0, -1.25};

    void cubeDerivatives(BiFunction<Builder, Value, Value> cube) {
        Builder b = new Builder();
        Value x = b.param("x", t(F64, XS.length));
        Graph f = b.build("cube", b.reduceSum(cube.apply(b, x), Axes.of(0)));
        Graph first = Differentiate.grad(f, List.of("x"));          // 3x^2, a vector
        Graph second = Differentiate.joint(first, List.of("x"));    // seeded by %grad_out
        assertEquals(List.of("x", "grad_out"), second.paramNames());
        NdArray ones = NdArray.zeros(F64, XS.length);
        for (int i = 0; i < XS.length; i++) ones.setDouble(i, 1);
        List<NdArray> out = Interpreter.run(second, List.of(arr(XS.clone(), XS.length), ones));
        for (int i = 0; i < XS.length; i++) {
            assertEquals(3 * XS[i] * XS[i], out.get(0).getDouble(i), "3x^2 at " + XS[i]);
            // The Hessian is diagonal, so H * ones is the second derivative itself: exactly 6x.
            assertEquals(6 * XS[i], out.get(1).getDouble(i), "6x at " + XS[i]);
        }
    }

    @Test void secondDerivativeOfCubeByMul() { cubeDerivatives((b, x) -> b.mul(b.mul(x, x), x)); }

    @Test void secondDerivativeOfCubeByPow() { cubeDerivatives((b, x) -> b.pow(x, b.constant(3, x.type()))); }

    @Test void thirdDerivativeOfCubeIsSix() {
        Builder b = new Builder();
        Value x = b.param("x", t(F64));
        Graph f = b.build("cube", b.mul(b.mul(x, x), x));
        Graph d3 = Differentiate.grad(Differentiate.grad(Differentiate.grad(f, List.of("x")), List.of("x")), List.of("x"));
        for (double v : XS)
            assertEquals(6.0, Interpreter.run(d3, List.of(NdArray.scalar(F64, v))).getFirst().getDouble(0));
    }

    /// Hessian-vector products `H v` (grad, then vjp of the gradients with v as cotangents)
    /// against central differences of the gradient, `(G(w + eps v) - G(w - eps v)) / 2eps`.
    static void checkHvp(Graph f, List<String> wrt, Map<String, NdArray> inputs, long seed) {
        Graph grad = Differentiate.grad(f, wrt);
        Graph hvp = Differentiate.vjp(grad, wrt);
        GoldenTest.printChecked(hvp, false);
        List<String> seeds = new ArrayList<>();
        for (int i = 0; i < wrt.size(); i++) seeds.add("grad_out." + i);
        List<String> expected = new ArrayList<>(f.paramNames());
        expected.addAll(seeds);
        assertEquals(expected, hvp.paramNames());

        Random rng = new Random(seed);
        Map<String, NdArray> dir = new LinkedHashMap<>();
        for (String w : wrt) dir.put(w, uniform(rng, F64, -1, 1, inputs.get(w).shape()));
        Map<String, NdArray> in = new LinkedHashMap<>(inputs);
        for (int i = 0; i < wrt.size(); i++) in.put(seeds.get(i), dir.get(wrt.get(i)));
        List<NdArray> out = Interpreter.run(hvp, in);
        List<NdArray> hv = out.subList(wrt.size(), out.size());

        double eps = 1e-5;
        List<NdArray> plus = Interpreter.run(grad, shifted(inputs, dir, eps));
        List<NdArray> minus = Interpreter.run(grad, shifted(inputs, dir, -eps));
        double err = 0, norm = 0;
        for (int i = 0; i < wrt.size(); i++)
            for (int k = 0; k < hv.get(i).size(); k++) {
                double fd = (plus.get(i).getDouble(k) - minus.get(i).getDouble(k)) / (2 * eps);
                err += Math.pow(hv.get(i).getDouble(k) - fd, 2);
                norm += Math.pow(fd, 2);
            }
        assertTrue(norm > 1e-6, "a vanishing Hessian would make this test vacuous");
        assertTrue(Math.sqrt(err) <= 1e-6 * Math.sqrt(norm), "|Hv - fd| = " + Math.sqrt(err) + " vs |fd| = " + Math.sqrt(norm));
    }

    static Map<String, NdArray> shifted(Map<String, NdArray> x, Map<String, NdArray> dir, double t) {
        Map<String, NdArray> out = new LinkedHashMap<>();
        for (var e : x.entrySet()) {
            NdArray v = dir.get(e.getKey());
            NdArray a = e.getValue();
            if (v != null) {
                a = a.copy();
                for (int k = 0; k < a.size(); k++) a.setDouble(k, a.getDouble(k) + t * v.getDouble(k));
            }
            out.put(e.getKey(), a);
        }
        return out;
    }

    @Test void hessianVectorProductOfTanhMlp() {
        Graph f = Models.mlp(F64, 4, 3, 5, 3, Builder::tanh);
        checkHvp(f, Models.MLP_WEIGHTS, Models.mlpInputs(f, 1), 1);
        checkHvp(f, List.of("x", "fc1.w"), Models.mlpInputs(f, 2), 2);
    }

    @Test void hessianVectorProductOfReluMlp() {
        // Piecewise linear hidden layer: the curvature comes from the cross-entropy alone.
        Graph f = Models.mlp(F64, 4, 3, 5, 3, Builder::relu);
        checkHvp(f, Models.MLP_WEIGHTS, Models.mlpInputs(f, 3), 3);
    }

    @Test void hessianVectorProductThroughConvolution() {
        // Second derivatives through conv2d go through the rules of conv2d_grad_input/weight.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 1, 2, 6, 5)), w = b.param("w", t(F64, 4, 1, 3, 2));
        Value y = b.conv2d(x, w, Ints.of(2, 1), Ints.of(1, 1), Ints.of(1, 2), 2);
        Graph f = b.build("conv", Models.mean(b, b.tanh(y)));
        Random rng = new Random(4);
        Map<String, NdArray> in = new LinkedHashMap<>();
        in.put("x", uniform(rng, F64, -1, 1, 1, 2, 6, 5));
        in.put("w", uniform(rng, F64, -1, 1, 4, 1, 3, 2));
        checkHvp(f, List.of("x", "w"), in, 4);
    }

    @Test void gradientOfGradientPassesGradCheck() {
        // s(w) = sum(grad_w f * r): its own gradient checked against finite differences.
        Graph f = Models.mlp(F64, 3, 2, 4, 3, Builder::tanh);
        Graph grad = Differentiate.grad(f, List.of("fc1.w"));
        Graph weightedGrad = weightedFirstResult(grad);
        check(weightedGrad, List.of("fc1.w", "fc2.w"), Models.mlpInputs(f, 5), 5);
    }

    /// `grad` with one more parameter `%r` and a single result `sum(grad_0 * r)`.
    static Graph weightedFirstResult(Graph grad) {
        Builder b = new Builder();
        Map<Value, Value> m = new java.util.HashMap<>();
        for (Value p : grad.params()) m.put(p, b.param(Differentiate.name(p), p.type()));
        for (Value v : grad.body()) m.put(v, b.emit(dev.kiln.ir.Ops.mapOperands(v.op(), m::get)));
        return weighted(b, "weighted_grad", m.get(grad.results().getFirst()));
    }
}
