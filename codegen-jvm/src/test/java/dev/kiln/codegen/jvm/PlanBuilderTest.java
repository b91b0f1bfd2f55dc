package dev.kiln.codegen.jvm;

import dev.kiln.runtime.Size;
import dev.kiln.codegen.jvm.rt.Plan;
import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// The plan that `JvmBackend.compile` runs, and the one a standalone jar reads back from its
/// text: same bits, and a profile of every kernel.
class PlanBuilderTest {
    static Graph convNet() {
        Builder b = new Builder();
        Value x = b.param("x", f32("N", 2, 8, 8)), w = b.param("w", f32(4, 2, 3, 3)), bias = b.param("b", f32(4));
        Builder cb = new Builder();
        Value cx = cb.param("x", f32("N", 2, 8, 8)), cw = cb.param("w", f32(4, 2, 3, 3)), cbias = cb.param("b", f32(4));
        Value conv = cb.conv2d(cx, cw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
        Value act = cb.relu(cb.add(conv, cb.broadcast(cbias, Axes.of(1), conv.type())));
        Value y = b.fused(List.of(x, w, bias), cb.build("conv_bias_relu", act), "conv_bias_relu");
        Value pooled = b.reduceMax(b.reshape(y, f32("N", 4, 4, 2, 4, 2)), Axes.of(3, 5));
        return b.build("cnn", pooled, b.reduceSum(b.reshape(pooled, f32("N", 64)), Axes.of(1)));
    }

    @Test void planReadBackFromItsTextGivesTheBitsOfTheCompiledGraph() {
        for (Graph g : List.of(GraphParityTest.mlpTrainStep(), convNet())) {
            PlanExecutable compiled = JvmBackend.compile(g);
            PlanBuilder.Compiled c = PlanBuilder.build(g, JvmBackend.className(g));
            // through the text form, as a jar reads it
            Plan plan = Plan.parse(c.plan().toText(), "test");
            assertEquals(c.plan().toText(), plan.toText());
            assertEquals(compiled.plan().toText(), plan.toText(), "compile builds the plan a jar gets");
            PlanExecutable exe = new PlanExecutable(plan, JvmBackend.define(c.classBytes()), c.constants(), Pool.shared());
            for (int n : new int[]{1, 3, 70}) {
                List<NdArray> in = Parity.randomInputs(g, Map.of("B", n, "N", n), n);
                List<NdArray> want = compiled.run(in), got = exe.run(in);
                for (int r = 0; r < want.size(); r++)
                    assertTrue(want.get(r).contentEquals(got.get(r)), g.name() + " result " + r + " at size " + n);
            }
        }
    }

    /// Every kernel counted once per run, the flops of the matrix products as the formula gives
    /// them, shares that add up to the whole.
    @Test void profileCountsEveryKernelOncePerRun() {
        Graph g = GraphParityTest.mlpTrainStep();
        PlanExecutable exe = JvmBackend.compile(g);
        assertNull(exe.profile(), "off unless asked");
        exe.enableProfile();
        List<NdArray> in = Parity.randomInputs(g, Map.of("B", 32), 1);
        for (int i = 0; i < 3; i++) exe.run(in);
        KernelProfile p = exe.profile();
        assertEquals(3, p.runs());
        assertEquals(exe.plan().kernels().size(), p.rows().size());
        long flops = 0, nanos = 0;
        for (KernelProfile.Row r : p.rows()) {
            assertEquals(3, r.calls(), r.toString());
            flops += r.flops();
            nanos += r.nanos();
        }
        // four matmuls of 32x784x128 or 32x128x10 shapes (forward two, backward three: x^T g is one
        // more than the forward): 2*B*784*128 twice (x@w1, x^T@g1) and 2*B*128*10 three times
        long perRun = 2L * 32 * 784 * 128 * 2 + 2L * 32 * 128 * 10 * 3;
        assertEquals(3 * perRun, flops);
        String table = p.table();
        assertTrue(table.startsWith("kernel") && table.contains("GFLOP/s"), table);
        double shares = 0;
        List<String> lines = table.lines().toList();
        for (String line : lines.subList(1, lines.size() - 1)) shares += Double.parseDouble(line.split("%")[0].replaceAll(".* ", ""));
        assertEquals(100.0, shares, 0.1 * p.rows().size(), table); // each share is rounded to 0.1
        String total = lines.getLast();
        assertTrue(total.matches("total +3 +" + String.format(java.util.Locale.ROOT, "%.3f", nanos / 1e6) + " .* 100.0%"), total);
    }

    @Test void sizesEvaluateAsTheKernelIrDoes() {
        Size s = Size.apply("+", Size.apply("*", Size.symbol(0), Size.literal(7)), Size.apply("/",
                Size.symbol(1), Size.literal(0)));
        assertEquals(3 * 7, s.eval(new int[]{3, 5}));
        assertEquals(Size.apply("max", Size.literal(-2), Size.symbol(0)).eval(new int[]{-5}), -2);
    }

    /// A kernel's first call (class loading, JIT) is kept out of the mean, the share and the
    /// rates, and shown apart: here every task takes 1 ms on its first call and 2 us after.
    @Test void profileKeepsTheFirstCallApart() {
        Plan plan = JvmBackend.compile(GraphParityTest.mlpTrainStep()).plan();
        KernelProfile p = new KernelProfile(plan);
        int[] dims = {32};
        for (int run = 0; run < 5; run++) {
            for (int t = 0; t < plan.tasks().size(); t++) p.add(t, run == 0 ? 1_000_000 : 2_000, dims);
            p.endRun();
        }
        KernelProfile.Row r = p.rows().getFirst();
        long tasks = plan.tasks().stream().filter(t -> t.kernel() == 0).count();
        assertEquals(5, r.calls());
        assertEquals(4, r.steadyCalls());
        assertEquals(tasks * (1_000_000 + 4 * 2_000), r.nanos());
        assertEquals(tasks * 4 * 2_000, r.steadyNanos());
        assertEquals(tasks * 1_000_000, r.firstNanos());
        String line = p.table().lines().skip(1).findFirst().orElseThrow();
        String[] cols = line.trim().split(" +");
        assertEquals(String.format("%.1f", tasks * 2.0), cols[3], line);        // mean us: the later calls
        assertEquals(String.format("%.1f", tasks * 1000.0), cols[4], line);     // first us
        assertEquals(String.format("%.1f%%", 100.0 * tasks / plan.tasks().size()), cols[5], line); // share of the later calls
    }
}
