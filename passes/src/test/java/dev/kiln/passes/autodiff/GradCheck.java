package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/// Gradient checks in the style of JAX's `check_grads`: the joint graph's gradients, dotted
/// with a random direction v, against the central difference `(f(x+eps v) - f(x-eps v)) / 2eps`
/// of the original graph, both through the reference interpreter, in f64.
final class GradCheck {
    private GradCheck() {}

    static final double EPS = 1e-6;
    static final double RTOL = 1e-6;

    /// `sum(out * r)` with a new parameter `%r` of out's type: a random weighting makes every
    /// element of `out` matter to the scalar that is differentiated.
    static Graph weighted(Builder b, String name, Value out) {
        Value r = b.param("r", out.type());
        Value s = b.mul(out, r);
        if (out.type().rank() > 0) s = b.reduceSum(s, Axes.range(out.type().rank()));
        return b.build(name, s);
    }

    /// Random inputs for every parameter not in `given`: uniform in [-1, 1) for floats.
    static Map<String, NdArray> fill(Graph f, Map<String, NdArray> given, Random rng) {
        Map<String, NdArray> in = new LinkedHashMap<>();
        for (Value p : f.params()) {
            String n = Differentiate.name(p);
            in.put(n, given.containsKey(n) ? given.get(n) : uniform(rng, p.type().dtype(), -1, 1, shape(p)));
        }
        return in;
    }

    static int[] shape(Value v) { return v.type().shape().resolve(Map.of()); }

    static NdArray uniform(Random rng, DType d, double lo, double hi, int... shape) {
        NdArray a = NdArray.zeros(d, shape);
        for (int i = 0; i < a.size(); i++) a.setDouble(i, lo + (hi - lo) * rng.nextDouble());
        return a;
    }

    /// Uniform magnitude in [lo, hi), random sign: keeps away from kinks at 0.
    static NdArray awayFromZero(Random rng, double lo, double hi, int... shape) {
        NdArray a = uniform(rng, DType.F64, lo, hi, shape);
        for (int i = 0; i < a.size(); i++) if (rng.nextBoolean()) a.setDouble(i, -a.getDouble(i));
        return a;
    }

    /// Distinct values at least 0.1 apart, shuffled: no ties for max and friends.
    static NdArray distinct(Random rng, int... shape) {
        NdArray a = NdArray.zeros(DType.F64, shape);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) order.add(i);
        java.util.Collections.shuffle(order, rng);
        for (int i = 0; i < a.size(); i++) a.setDouble(i, 0.1 * order.get(i) - 0.05 * a.size() + 0.03 * rng.nextDouble());
        return a;
    }

    /// Checks the gradients of `f`'s first (scalar) result with respect to `wrt` at `inputs`
    /// (missing ones are filled at random), along one random direction over all of `wrt` and
    /// along one per parameter. Returns the gradients.
    static List<NdArray> check(Graph f, List<String> wrt, Map<String, NdArray> inputs, long seed) {
        return check(f, wrt, inputs, seed, EPS, RTOL);
    }

    static List<NdArray> check(Graph f, List<String> wrt, Map<String, NdArray> inputs, long seed, double eps, double rtol) {
        Random rng = new Random(seed);
        Map<String, NdArray> x = fill(f, inputs, rng);
        Graph joint = Differentiate.joint(f, wrt);
        GoldenTest.printChecked(joint, false);
        List<NdArray> out = Interpreter.run(joint, new ArrayList<>(x.values()));
        List<NdArray> grads = out.subList(f.results().size(), out.size());
        assertEquals(wrt.size(), grads.size());
        for (int only = -1; only < wrt.size(); only++) {
            Map<String, NdArray> dir = new HashMap<>();
            double analytic = 0;
            for (int i = 0; i < wrt.size(); i++) {
                NdArray xi = x.get(wrt.get(i));
                NdArray v = NdArray.zeros(DType.F64, xi.shape());
                if (only < 0 || only == i) for (int k = 0; k < v.size(); k++) v.setDouble(k, rng.nextGaussian());
                dir.put(wrt.get(i), v);
                for (int k = 0; k < v.size(); k++) analytic += grads.get(i).getDouble(k) * v.getDouble(k);
            }
            double numeric = (eval(f, x, dir, eps) - eval(f, x, dir, -eps)) / (2 * eps);
            double scale = Math.max(Math.abs(analytic), Math.abs(numeric));
            if (!(Math.abs(analytic - numeric) <= rtol * scale + 1e-9))
                fail("@" + f.name() + " direction " + (only < 0 ? "all" : "%" + wrt.get(only)) + ": gradient gives "
                        + analytic + ", finite differences " + numeric);
        }
        return grads;
    }

    /// `f(x + t v)`, where v is zero for parameters not in `dir`.
    static double eval(Graph f, Map<String, NdArray> x, Map<String, NdArray> dir, double t) {
        List<NdArray> in = new ArrayList<>();
        for (var e : x.entrySet()) {
            NdArray v = dir.get(e.getKey());
            if (v == null) { in.add(e.getValue()); continue; }
            NdArray a = e.getValue().copy();
            for (int k = 0; k < a.size(); k++) a.setDouble(k, a.getDouble(k) + t * v.getDouble(k));
            in.add(a);
        }
        return Interpreter.run(f, in).getFirst().getDouble(0);
    }

    static NdArray arr(double[] values, int... shape) { return NdArray.of(values, shape); }
}
