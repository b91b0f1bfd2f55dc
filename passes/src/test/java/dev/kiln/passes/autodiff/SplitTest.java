package dev.kiln.passes.autodiff;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
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

import static dev.kiln.passes.autodiff.GradCheck.*;
import static dev.kiln.passes.autodiff.Models.t;
import static org.junit.jupiter.api.Assertions.*;

/// The forward/backward split: forward then backward reproduces the joint graph exactly, and
/// the min-cut saves and recomputes what it should.
class SplitTest {
    static final DType F64 = DType.F64;

    /// Runs `split` as a training step would (forward, then backward on what it saved plus the
    /// cotangents) and returns the forward's primal results followed by the gradients.
    static List<NdArray> runSplit(Split split, int primalResults, Map<String, NdArray> inputs, Map<String, NdArray> cotangents) {
        GoldenTest.printChecked(split.forward(), false);
        GoldenTest.printChecked(split.backward(), false);
        List<NdArray> fo = Interpreter.run(split.forward(), inputs);
        Map<String, NdArray> bin = new LinkedHashMap<>();
        int k = primalResults;
        for (String name : split.backward().paramNames()) {
            if (cotangents.containsKey(name)) bin.put(name, cotangents.get(name));
            else if (name.startsWith("saved.")) bin.put(name, fo.get(k++));
            else bin.put(name, inputs.get(name));
        }
        assertEquals(fo.size(), k, "every saved activation goes to the backward");
        List<NdArray> out = new ArrayList<>(fo.subList(0, primalResults));
        out.addAll(Interpreter.run(split.backward(), bin));
        return out;
    }

    static void assertSame(List<NdArray> expected, List<NdArray> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++)
            assertTrue(expected.get(i).contentEquals(actual.get(i)), "result #" + i + ": " + expected.get(i) + " vs " + actual.get(i));
    }

    @Test void mlpWithCrossEntropyComposesToJointWithCotangentParameter() {
        Graph f = Models.mlp(F64, 6, 5, 7, 4, Builder::relu);
        Graph joint = Differentiate.vjp(f, Models.MLP_WEIGHTS);
        Split split = Split.of(joint, f.params().size(), f.results().size());
        assertEquals(f.paramNames(), split.forward().paramNames());
        assertEquals("grad_out", split.backward().paramNames().getLast());

        Map<String, NdArray> in = Models.mlpInputs(f, 1);
        NdArray seed = NdArray.scalar(F64, 0.75);
        Map<String, NdArray> jin = new LinkedHashMap<>(in);
        jin.put("grad_out", seed);
        assertSame(Interpreter.run(joint, jin), runSplit(split, 1, in, Map.of("grad_out", seed)));

        // relu's output is saved (the fc2 weight gradient and relu's mask read it); its input is
        // not, since nothing in the backward reads it.
        assertTrue(split.forward().results().stream().anyMatch(r -> r.op() instanceof Op.Relu), split.report());
        assertTrue(split.recomputed().stream().noneMatch(r -> r.contains("= relu")), split.report());
        assertTrue(split.saved().containsAll(List.of("x", "fc2.w")), split.report());
        assertFalse(split.saved().contains("fc1.b"), "the bias is only needed for its shape: " + split.report());
    }

    @Test void mlpWithConstantSeedAlsoSplits() {
        Graph f = Models.mlp(F64, 3, 4, 5, 3, Builder::tanh);
        Graph joint = Differentiate.joint(f, Models.MLP_WEIGHTS);
        Split split = Split.of(joint, f.params().size(), f.results().size());
        Map<String, NdArray> in = Models.mlpInputs(f, 2);
        assertSame(Interpreter.run(joint, in), runSplit(split, 1, in, Map.of()));
    }

    @Test void elementwiseChainOnParametersIsRecomputedNotSaved() {
        // sum(exp(tanh(x)) * w): the backward needs tanh(x) and exp(tanh(x)); both are recomputed
        // from x, which costs nothing to keep.
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 3, 4)), w = b.param("w", t(F64, 3, 4));
        Graph f = b.build("chain", b.reduceSum(b.mul(b.exp(b.tanh(x)), w), Axes.of(0, 1)));
        Graph joint = Differentiate.joint(f, List.of("x", "w"));
        Split split = Split.of(joint, 2, 1);
        assertEquals(List.of("x", "w"), split.saved(), split.report());
        assertEquals(List.of("%0 = tanh : f64[3,4]", "%1 = exp : f64[3,4]"), split.recomputed());
        assertEquals(1, split.forward().results().size());
        Map<String, NdArray> in = fill(f, Map.of(), new Random(3));
        assertSame(Interpreter.run(joint, new ArrayList<>(in.values())), runSplit(split, 1, in, Map.of()));
    }

    @Test void contractionOutputIsSavedAndReportSaysSo() {
        // relu(x @ w): relu's mask reads relu's output, which is saved (the matmul is never recomputed).
        Builder b = new Builder();
        Value x = b.param("x", t(F64, 2, 3)), w = b.param("w", t(F64, 3, 4));
        Graph f = b.build("mm", b.reduceSum(b.relu(b.matmul(x, w)), Axes.of(0, 1)));
        Graph joint = Differentiate.joint(f, List.of("x", "w"));
        Split split = Split.of(joint, 2, 1);
        assertEquals(List.of("x", "w", "saved.0"), split.saved());
        assertEquals(List.of(), split.recomputed());
        assertEquals("""
                split @mm: forward 3 ops, backward 9 ops
                saved for the backward (minimum cut over bytes; parameters cost nothing):
                  %x                    f64[2,3]         parameter
                  %w                    f64[3,4]         parameter
                  %saved.0              f64[2,4]         %1 = relu
                saved activations: 64 bytes in 1 value
                recomputed in the backward: none
                """, split.report());
        Map<String, NdArray> in = fill(f, Map.of(), new Random(4));
        assertSame(Interpreter.run(joint, new ArrayList<>(in.values())), runSplit(split, 1, in, Map.of()));
    }

    @Test void hessianVectorGraphSplits() {
        // The split works on any joint graph, including one made by differentiating twice.
        Graph f = Models.mlp(F64, 3, 2, 4, 3, Builder::tanh);
        Graph grad = Differentiate.grad(f, List.of("fc1.w"));
        Graph hvp = Differentiate.vjp(grad, List.of("fc1.w"));
        Split split = Split.of(hvp, grad.params().size(), grad.results().size());
        Map<String, NdArray> in = Models.mlpInputs(f, 5);
        NdArray v = uniform(new Random(6), F64, -1, 1, 2, 4);
        Map<String, NdArray> jin = new LinkedHashMap<>(in);
        jin.put("grad_out", v);
        assertSame(Interpreter.run(hvp, jin), runSplit(split, 1, in, Map.of("grad_out", v)));
    }
}
