package dev.kiln.passes.fusion;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Op;
import dev.kiln.ir.Value;
import dev.kiln.ir.Verifier;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.text.Parser;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.autodiff.Differentiate;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// MLP training steps, forward and backward, fuse into a handful of kernels: the step of
/// STYLE.md with its backward written by hand, and a cross-entropy MLP differentiated by autodiff.
class MlpFusionTest {
    static Graph fused() { return PassManager.withFusion(PassManager.Options.none().withVerifyEach(true)).run(Mlp.trainStep()); }

    @Test void trainStepIsAHandfulOfKernels() {
        Graph in = Mlp.trainStep();
        Graph g = fused();
        List<String> kernels = g.body().stream().filter(v -> v.op() instanceof Op.Fused).map(v -> ((Op.Fused) v.op()).kernel()).toList();
        // per kernel: fc1 forward, fc2 forward with the loss difference, the loss,
        // the loss gradient, fc2's input gradient with the relu mask
        assertEquals(List.of("matmul_add", "matmul_add_sub", "mul_reduce_sum_mul", "mul_add", "matmul_gt_select"), kernels,
                Printer.print(g));
        // what is left unfused: relu (fc1's pre-activation also feeds the mask), two bias-gradient
        // sums, three transposes and two matmuls feeding on values other kernels also read
        long plain = g.body().stream().filter(v -> !(v.op() instanceof Op.Fused) && !(v.op() instanceof Op.Const)).count();
        assertEquals(8, plain, Printer.print(g));
        assertTrue(g.body().size() < in.body().size() / 2, in.body().size() + " ops became " + g.body().size());
    }

    @Test void autodiffTrainStepIsAHandfulOfKernels() {
        Graph joint = Differentiate.joint(Mlp.crossEntropy(), List.of("fc1.w", "fc1.b", "fc2.w", "fc2.b"));
        Graph g = PassManager.withFusion(PassManager.Options.none().withVerifyEach(true)).run(joint);
        long kernels = g.body().stream().filter(v -> v.op() instanceof Op.Fused).count();
        assertTrue(kernels >= 5 && kernels <= 9, kernels + " kernels\n" + Printer.print(g));
        // unfused: only contractions, reductions (reduce_max_grad, the max's gradient in the
        // log-softmax, is always a kernel of its own), transposes and relu remain on their own
        // (no stray elementwise op) and the 54 ops of the joint graph are fewer than 20 launches
        for (Value v : g.body())
            assertTrue(v.op() instanceof Op.Fused || v.op() instanceof Op.Matmul || v.op() instanceof Op.ReduceSum
                    || v.op() instanceof Op.ReduceMax || v.op() instanceof Op.ReduceMaxGrad || v.op() instanceof Op.Transpose
                    || v.op() instanceof Op.Relu,
                    "unfused " + v + "\n" + Printer.print(g));
        assertTrue(g.body().size() < 20, g.body().size() + " launches\n" + Printer.print(g));
        // the cross-entropy rows: max, then a kernel per stage, never one op per kernel: the
        // backward's softmax is summed in the row kernel that computes it
        assertTrue(g.body().stream().anyMatch(v -> v.op() instanceof Op.Fused f && !KernelShape.of(f).reductions().isEmpty()
                        && f.body().body().stream().anyMatch(o -> o.op() instanceof Op.Exp)),
                "a backward row kernel sums its softmax\n" + Printer.print(g));
        assertSameResults(joint, g);
    }

    @Test void fusedStepComputesTheSame() { assertSameResults(Mlp.trainStep(), fused()); }

    private static void assertSameResults(Graph in, Graph out) {
        Random r = new Random(5);
        List<NdArray> inputs = new ArrayList<>();
        for (Value p : in.params()) {
            int[] shape = p.type().shape().resolve(java.util.Map.of());
            NdArray a = NdArray.zeros(p.type().dtype(), shape);
            for (int i = 0; i < a.size(); i++) a.setDouble(i, p.type().dtype().isFloat() ? r.nextGaussian() * 0.1 : r.nextInt(10));
            inputs.add(a);
        }
        List<NdArray> a = Interpreter.run(in, inputs), b = Interpreter.run(out, inputs);
        for (int i = 0; i < a.size(); i++) assertTrue(a.get(i).contentEquals(b.get(i)), "result " + i + " differs");
    }

    @Test void fusedStepPrintsAndParsesBack() {
        Graph g = fused();
        String text = Printer.print(g, true);
        Graph back = Parser.parse(text, "mlp.kir");
        assertEquals(List.of(), Verifier.check(back));
        assertEquals(text, Printer.print(back, true));
        assertTrue(text.contains("loc(fused[Mlp.java:18 in fc1])"), text);
        assertTrue(text.contains("loc(fused[grad(Mlp.java:19 in fc2), grad(Mlp.java:18)])"), text);
    }

    @Test void reportExplainsTheSplits() {
        Graph g = PassManager.standard(PassManager.Options.none()).run(Mlp.trainStep());
        String report = Fuse.fuse(g).report().toString();
        assertTrue(report.contains("not fused: %2 add -> %3 relu (it is used by 2 ops, so it ends the kernel of matmul %0"), report);
        assertTrue(report.contains("not fused: %16 transpose -> %17 matmul (matmul operands are read from memory)"), report);
        assertTrue(report.contains("not fused: %14 add -> %15 reduce_sum (it is written to memory for %17 matmul"), report);
    }
}
