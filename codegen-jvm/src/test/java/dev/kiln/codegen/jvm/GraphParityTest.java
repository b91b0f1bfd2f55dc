package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.PlanExecutable;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.kiln.codegen.jvm.Parity.bindings;
import static dev.kiln.codegen.jvm.Parity.check;
import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// Whole graphs through the JVM backend: fused regions of the shapes fusion makes, forward and
/// backward-style graphs, symbolic batch sizes, a deep MLP (method sizes), concurrent calls.
class GraphParityTest {

    /// Wraps `body` (one result) as a fused op over fresh params of the same types.
    static Graph fusedGraph(String name, Graph body) {
        Builder b = new Builder();
        List<Value> in = new ArrayList<>();
        for (Value p : body.params()) in.add(b.param(((dev.kiln.ir.Op.Param) p.op()).name(), p.type()));
        return b.build(name, b.fused(in, body, name));
    }

    static Graph softmaxBody(TensorType t) {
        Builder b = new Builder();
        Value x = b.param("x", t);
        int last = t.rank() - 1;
        TensorType row = t.withShape(t.shape().without(Axes.of(last)));
        Value m = b.broadcast(b.reduceMax(x, Axes.of(last)), Axes.range(last), t);
        Value e = b.exp(b.sub(x, m));
        Value s = b.broadcast(b.reduceSum(e, Axes.of(last)), Axes.range(last), t);
        assertNotNull(row);
        return b.build("softmax", b.div(e, s));
    }

    @Test void fusedSoftmax() {
        check(fusedGraph("softmax", softmaxBody(f32("B", 10))), bindings("B", 1), bindings("B", 64), bindings("B", 7));
        check(fusedGraph("softmax3", softmaxBody(f32("B", 3, 17))), bindings("B", 2));
    }

    /// mean over the batch of -log softmax(logits)[target], target given as i64 class indices.
    static Graph crossEntropyBody() {
        Builder b = new Builder();
        TensorType t = f32("B", 10);
        Value x = b.param("logits", t), y = b.param("target", TensorType.i64("B"));
        Value m = b.broadcast(b.reduceMax(x, Axes.of(1)), Axes.of(0), t);
        Value z = b.sub(x, m);
        Value lse = b.broadcast(b.log(b.reduceSum(b.exp(z), Axes.of(1))), Axes.of(0), t);
        Value logp = b.sub(z, lse);
        Value onehot = b.cast(b.eq(b.iota(1, TensorType.i64("B", 10)), b.broadcast(y, Axes.of(0), TensorType.i64("B", 10))), DType.F32);
        Value nll = b.neg(b.reduceSum(b.mul(onehot, logp), Axes.of(0, 1)));
        Value n = b.reduceSum(b.constant(1, t), Axes.of(0, 1)); // B*10
        Value loss = b.div(b.mul(nll, b.constant(10, f32())), n);
        return b.build("cross_entropy", loss);
    }

    @Test void fusedCrossEntropyWithClassTargets() {
        Graph body = crossEntropyBody();
        Graph g = fusedGraph("xent", body);
        for (int batch : new int[]{1, 5, 64}) {
            List<NdArray> in = Parity.randomInputs(g, bindings("B", batch), batch);
            NdArray target = NdArray.zeros(DType.I64, batch);
            for (int i = 0; i < batch; i++) target.setLong(i, (i * 7) % 10);
            in.set(1, target);
            Parity.compare("xent B=" + batch, Interpreter.run(g, in), JvmBackend.compile(g).run(in));
        }
    }

    @Test void matmulBiasReluEpilogueRunsInPlace() {
        Builder body = new Builder();
        Value x = body.param("x", f32("B", 784)), w = body.param("w", f32(128, 784)), bias = body.param("b", f32(128));
        Value h = body.relu(body.add(body.matmul(x, body.transpose(w, Axes.of(1, 0))), body.broadcast(bias, Axes.of(1), f32("B", 128))));
        Graph g = fusedGraph("fc_relu", body.build("fc_relu", h));
        check(g, bindings("B", 1), bindings("B", 64), bindings("B", 3));
        String kir = JvmBackend.dumpKernels(g);
        assertTrue(kir.contains("epilogue:"), kir);
    }

    /// Sizes large enough that the library splits work across threads and runs the epilogue
    /// per finished row block / image: flat (relu only) and nested (bias) epilogues.
    @Test void epiloguesRunPerBlockInsideParallelLibraryCalls() {
        Builder mb = new Builder();
        Value x = mb.param("x", f32("B", 256)), w = mb.param("w", f32(256, 64));
        Graph flat = fusedGraph("mm_relu", mb.build("mm_relu", mb.relu(mb.matmul(x, w))));
        check(flat, bindings("B", 200), bindings("B", 3));
        assertTrue(JvmBackend.dumpKernels(flat).contains("epilogue:"));
        for (int n : new int[]{4, 1}) {
            Builder cb = new Builder();
            Value cx = cb.param("x", f32("N", 8, 16, 16)), cw = cb.param("w", f32(16, 8, 3, 3)), bias = cb.param("b", f32(16));
            Value conv = cb.conv2d(cx, cw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
            Value out = cb.relu(cb.add(conv, cb.broadcast(bias, Axes.of(1), conv.type())));
            check(fusedGraph("conv_relu", cb.build("conv_relu", out)), bindings("N", n));
            Builder gb = new Builder();
            Value g = gb.param("g", f32("N", 16, 16, 16)), gw = gb.param("w", f32(16, 8, 3, 3));
            Value gi = gb.conv2dGradInput(g, gw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, f32("N", 8, 16, 16));
            check(fusedGraph("grad_in_relu", gb.build("grad_in_relu", gb.relu(gi))), bindings("N", n));
            Builder wb = new Builder();
            Value wx = wb.param("x", f32("N", 8, 16, 16)), wg = wb.param("g", f32("N", 16, 16, 16));
            Value gwt = wb.conv2dGradWeight(wx, wg, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, f32(16, 8, 3, 3));
            check(fusedGraph("grad_w_scaled", wb.build("grad_w_scaled", wb.mul(gwt, wb.constant(0.5, gwt.type())))), bindings("N", n));
        }
    }

    /// Narrow images go through the library several to a product (up to 784 columns: 12 images
    /// of 8x8, 31 of 5x5), so batch sizes around that count leave a short last product, and a
    /// few images with one thread or with the pool's threads leave others. Each form, with an
    /// epilogue, in the same-size and the strided im2col, with few channels (one thread) and more
    /// (the pool's threads, fewer images to a product).
    @Test void convolutionsOverBatchesOfImagesWithShortLastBatch() {
        // {channels in, out, input size, stride, output size}
        int[][] shapes = {{2, 4, 8, 1, 8}, {8, 16, 8, 1, 8}, {3, 5, 9, 2, 5}};
        for (int[] s : shapes) {
            int c = s[0], o = s[1], hw = s[2], oh = s[4];
            Ints stride = Ints.of(s[3], s[3]), pad = Ints.of(1, 1), dil = Ints.of(1, 1);
            int per = 784 / (oh * oh);
            Map<String, Integer>[] ns = new Map[]{bindings("N", 1), bindings("N", per - 1), bindings("N", per + 1),
                    bindings("N", 2 * per + 3)};
            Builder cb = new Builder();
            Value cx = cb.param("x", f32("N", c, hw, hw)), cw = cb.param("w", f32(o, c, 3, 3)), bias = cb.param("b", f32(o));
            Value conv = cb.conv2d(cx, cw, stride, pad, dil, 1);
            Value out = cb.relu(cb.add(conv, cb.broadcast(bias, Axes.of(1), conv.type())));
            Graph fwd = fusedGraph("conv_bias_relu", cb.build("conv_bias_relu", out));
            check(fwd, ns);
            assertTrue(JvmBackend.dumpKernels(fwd).contains("epilogue:"));
            Builder gb = new Builder();
            Value g = gb.param("g", f32("N", o, oh, oh)), gw = gb.param("w", f32(o, c, 3, 3));
            Value gi = gb.conv2dGradInput(g, gw, stride, pad, dil, 1, f32("N", c, hw, hw));
            check(fusedGraph("grad_in_relu", gb.build("grad_in_relu", gb.relu(gi))), ns);
            Builder wb = new Builder();
            Value wx = wb.param("x", f32("N", c, hw, hw)), wg = wb.param("g", f32("N", o, oh, oh));
            Value gwt = wb.conv2dGradWeight(wx, wg, stride, pad, dil, 1, f32(o, c, 3, 3));
            check(fusedGraph("grad_w_scaled", wb.build("grad_w_scaled", wb.mul(gwt, wb.constant(0.5, gwt.type())))), ns);
        }
    }

    @Test void convBiasReluThenMaxPoolAsReshapeAndReduceMax() {
        // conv -> (fused) bias + relu epilogue -> (fused) max-pool 2x2 as reshape + reduce_max
        Builder b = new Builder();
        Value x = b.param("x", f32("N", 2, 8, 8)), w = b.param("w", f32(4, 2, 3, 3)), bias = b.param("b", f32(4));
        Builder cb = new Builder();
        Value cx = cb.param("x", f32("N", 2, 8, 8)), cw = cb.param("w", f32(4, 2, 3, 3)), cbias = cb.param("b", f32(4));
        Value conv = cb.conv2d(cx, cw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
        Value act = cb.relu(cb.add(conv, cb.broadcast(cbias, Axes.of(1), conv.type())));
        Value y = b.fused(List.of(x, w, bias), cb.build("conv_bias_relu", act), "conv_bias_relu");
        Builder pb = new Builder();
        Value px = pb.param("y", f32("N", 4, 8, 8));
        Value pooled = pb.reduceMax(pb.reshape(px, f32("N", 4, 4, 2, 4, 2)), Axes.of(3, 5));
        Value p = b.fused(List.of(y), pb.build("pool", pooled), "maxpool");
        Graph g = b.build("cnn", p, b.reduceSum(b.reshape(p, f32("N", 64)), Axes.of(1)));
        check(g, bindings("N", 3), bindings("N", 1));
        String text = JvmBackend.dumpKernels(g);
        assertTrue(text.contains("conv2d(") && text.contains("epilogue:"), text);
    }

    /// STYLE.md's MLP train step: forward, MSE loss, and its hand-derived backward graph with
    /// transposes feeding matmuls and relu's select.
    static Graph mlpTrainStep() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 784)), y = b.param("y", f32("B", 10));
        Value w1 = b.param("fc1.w", f32(784, 128)), b1 = b.param("fc1.b", f32(128));
        Value w2 = b.param("fc2.w", f32(128, 10)), b2 = b.param("fc2.b", f32(10));
        Value h0 = b.matmul(x, w1);
        Value h1 = b.add(h0, b.broadcast(b1, Axes.of(1), f32("B", 128)));
        Value h = b.relu(h1);
        Value o = b.add(b.matmul(h, w2), b.broadcast(b2, Axes.of(1), f32("B", 10)));
        Value d = b.sub(o, y);
        Value loss = b.mul(b.reduceSum(b.mul(d, d), Axes.of(0, 1)), b.constant(0.003125, f32()));
        Value g = b.mul(b.broadcast(b.constant(0.003125, f32()), Axes.of(), f32("B", 10)), d);
        Value go = b.add(g, g);
        Value gb2 = b.reduceSum(go, Axes.of(0));
        Value gh = b.matmul(go, b.transpose(w2, Axes.of(1, 0)));
        Value gw2 = b.matmul(b.transpose(h, Axes.of(1, 0)), go);
        Value zero = b.constant(0, f32("B", 128));
        Value gh1 = b.select(b.gt(h1, zero), gh, zero);
        Value gb1 = b.reduceSum(gh1, Axes.of(0));
        Value gw1 = b.matmul(b.transpose(x, Axes.of(1, 0)), gh1);
        return b.build("mlp_train_step", loss, gw1, gb1, gw2, gb2);
    }

    @Test void backwardGraphWithTransposedMatmuls() {
        check(mlpTrainStep(), bindings("B", 32), bindings("B", 1), bindings("B", 7));
        String text = JvmBackend.dumpKernels(mlpTrainStep());
        assertTrue(text.contains("gemmTN") && text.contains("gemmNT"), "transposes fold into the gemm: " + text);
        assertFalse(text.contains("transpose"), "no transpose kernel is left: " + text);
    }

    @Test void symbolicBatchRunsAtEverySizeWithOneCompile() {
        Graph g = mlpTrainStep();
        PlanExecutable exe = JvmBackend.compile(g);
        for (int batch : new int[]{64, 1, 33, 64, 2, 100}) {
            List<NdArray> in = Parity.randomInputs(g, bindings("B", batch), batch);
            Parity.compare("B=" + batch, Interpreter.run(g, in), exe.run(in));
        }
    }

    @Test void bufferPlanReusesIntermediates() {
        // a chain of 12 elementwise kernels (no fusion): each intermediate dies at the next kernel
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 256));
        Value v = x;
        for (int i = 0; i < 12; i++) v = i % 2 == 0 ? b.tanh(v) : b.mul(v, x);
        PlanExecutable exe = check(b.build("chain", v), bindings("B", 8));
        long[] bytes = exe.plannedBytes(8);
        assertEquals(2L * 8 * 256 * 4, bytes[0], "two slots suffice for a chain");
        assertEquals(11L * 8 * 256 * 4, bytes[1]);
    }

    /// 20 layers of 64 units: many kernels, every generated method under the JIT limit.
    @Test void twentyLayerMlpStaysUnderTheMethodSizeLimit() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 64));
        Value h = x;
        for (int l = 0; l < 20; l++) {
            Value w = b.param("l" + l + ".w", f32(64, 64)), bias = b.param("l" + l + ".b", f32(64));
            // weights scaled to 1/sqrt(fan-in) as an init would, so the net is not chaotic and
            // f32 rounding differences do not grow layer after layer
            Value ws = b.mul(w, b.constant(0.0625, f32(64, 64)));
            h = b.tanh(b.add(b.matmul(h, ws), b.broadcast(bias, Axes.of(1), f32("B", 64))));
        }
        Graph g = b.build("mlp20", b.reduceSum(h, Axes.of(1)), h);
        check(g, bindings("B", 4), bindings("B", 1));
        Map<String, Integer> sizes = Parity.methodSizes(JvmBackend.classBytes(g));
        assertTrue(sizes.size() > 60, "one method per task: " + sizes.size());
        int maxTask = sizes.entrySet().stream().filter(e -> e.getKey().startsWith("t")).mapToInt(Map.Entry::getValue).max().orElseThrow();
        assertTrue(maxTask < 1000, "largest task method " + maxTask + " bytes");
        int max = sizes.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
        assertTrue(max < Parity.HUGE_METHOD, "largest method " + max + " bytes (a dispatch page)");
    }

    @Test void manyTasksUseSeveralDispatchPages() {
        Builder b = new Builder();
        Value x = b.param("x", f32(3));
        Value v = x;
        for (int i = 0; i < 600; i++) v = b.add(v, x);
        check(b.build("long", v));
    }

    @Test void concurrentCallsGetTheirOwnBuffers() throws Exception {
        Graph g = mlpTrainStep();
        PlanExecutable exe = JvmBackend.compile(g);
        List<List<NdArray>> inputs = new ArrayList<>();
        List<List<NdArray>> expected = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            List<NdArray> in = Parity.randomInputs(g, bindings("B", 16 + i), 100 + i);
            inputs.add(in);
            expected.add(Interpreter.run(g, in));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int k = t;
                fs.add(pool.submit(() -> {
                    for (int rep = 0; rep < 20; rep++) Parity.compare("thread " + k, expected.get(k), exe.run(inputs.get(k)));
                }));
            }
            for (Future<?> f : fs) f.get();
        } finally {
            pool.shutdown();
        }
    }

    @Test void badInputsFailWithAOneLineMessage() {
        PlanExecutable exe = JvmBackend.compile(mlpTrainStep());
        List<NdArray> in = Parity.randomInputs(mlpTrainStep(), bindings("B", 4), 1);
        in.set(1, NdArray.zeros(DType.F32, 5, 10));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> exe.run(in));
        assertEquals("input '%y' is f32[5,10], but B = 4 from an earlier input (expected f32[B,10])", e.getMessage());
        in.set(1, NdArray.zeros(DType.F64, 4, 10));
        e = assertThrows(IllegalArgumentException.class, () -> exe.run(in));
        assertEquals("input '%y' is f64[4,10], expected f32[B,10]", e.getMessage());
    }

    @Test void runIntoCallerOutputs() {
        Graph g = fusedGraph("softmax", softmaxBody(f32("B", 10)));
        PlanExecutable exe = JvmBackend.compile(g);
        List<NdArray> in = Parity.randomInputs(g, bindings("B", 3), 5);
        NdArray out = NdArray.zeros(DType.F32, 3, 10);
        List<NdArray> res = exe.run(in, List.of(out));
        assertSame(out, res.getFirst());
        Parity.compare("into", Interpreter.run(g, in), res);
    }

    @Test void dumpsShowKernelsAndBytecode() {
        Graph g = fusedGraph("softmax", softmaxBody(f32("B", 10)));
        String kir = JvmBackend.dumpKernels(g);
        assertTrue(kir.startsWith("program @softmax symbols [B]"), kir);
        String code = JvmBackend.dumpBytecode(g);
        assertTrue(code.contains("implements dev/kiln/codegen/jvm/rt/KernelSet"), code);
        assertTrue(code.contains("INVOKESTATIC java/lang/Math.exp (D)D"), code);
    }
}
