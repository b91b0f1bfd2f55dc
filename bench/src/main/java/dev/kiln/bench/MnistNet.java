package dev.kiln.bench;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.kiln.ir.TensorType.f32;

/// The seed CNN (PERF.md's MNISTNet) as a graph with a symbolic batch `B`: conv 1->32 3x3 pad 1,
/// relu, max-pool 2, conv 32->64, relu, max-pool 2, flatten, linear 3136->10. The groups are
/// written as `fused` regions by hand, the way the fusion pass groups them (conv + bias + relu,
/// pool, linear + bias), since the benchmark must not wait for that pass.
public final class MnistNet {
    private MnistNet() {}

    public static final List<String> PARAMS = List.of("conv1.w", "conv1.b", "conv2.w", "conv2.b", "fc.w", "fc.b");

    public static Graph forward() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 1, 28, 28));
        Value w1 = b.param("conv1.w", f32(32, 1, 3, 3)), b1 = b.param("conv1.b", f32(32));
        Value w2 = b.param("conv2.w", f32(64, 32, 3, 3)), b2 = b.param("conv2.b", f32(64));
        Value wf = b.param("fc.w", f32(10, 3136)), bf = b.param("fc.b", f32(10));
        Value h = pool(b, convBiasRelu(b, x, w1, b1, "conv1"), "pool1");
        h = pool(b, convBiasRelu(b, h, w2, b2, "conv2"), "pool2");
        Value flat = b.reshape(h, f32("B", 3136));
        Builder fb = new Builder();
        Value fx = fb.param("x", flat.type()), fw = fb.param("w", wf.type()), fbias = fb.param("b", bf.type());
        Value logits = fb.add(fb.matmul(fx, fb.transpose(fw, Axes.of(1, 0))), fb.broadcast(fbias, Axes.of(1), f32("B", 10)));
        return b.build("mnist_forward", b.fused(List.of(flat, wf, bf), fb.build("fc", logits), "fc_bias"));
    }

    static Value convBiasRelu(Builder b, Value x, Value w, Value bias, String name) {
        Builder cb = new Builder();
        Value cx = cb.param("x", x.type()), cw = cb.param("w", w.type()), cbias = cb.param("b", bias.type());
        Value conv = cb.conv2d(cx, cw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
        Value out = cb.relu(cb.add(conv, cb.broadcast(cbias, Axes.of(1), conv.type())));
        return b.fused(List.of(x, w, bias), cb.build(name, out), name + "_bias_relu");
    }

    /// 2x2 max-pool as reshape + reduce_max.
    static Value pool(Builder b, Value x, String name) {
        TensorType t = x.type();
        long c = t.dim(1).size(), h = t.dim(2).size(), w = t.dim(3).size();
        Builder pb = new Builder();
        Value px = pb.param("x", t);
        Value r = pb.reshape(px, f32("B", c, h / 2, 2, w / 2, 2));
        return b.fused(List.of(x), pb.build(name, pb.reduceMax(r, Axes.of(3, 5))), name);
    }

    /// Random weights (uniform, scaled by fan-in as PyTorch's default init) and a random batch.
    public static List<NdArray> inputs(int batch, long seed) {
        Random r = new Random(seed);
        List<NdArray> in = new ArrayList<>();
        in.add(uniform(r, 1, batch, 1, 28, 28));
        in.add(uniform(r, 1 / 3.0, 32, 1, 3, 3));
        in.add(uniform(r, 1 / 3.0, 32));
        in.add(uniform(r, 1 / Math.sqrt(288), 64, 32, 3, 3));
        in.add(uniform(r, 1 / Math.sqrt(288), 64));
        in.add(uniform(r, 1 / Math.sqrt(3136), 10, 3136));
        in.add(uniform(r, 1 / Math.sqrt(3136), 10));
        return in;
    }

    static NdArray uniform(Random r, double bound, int... shape) {
        NdArray a = NdArray.zeros(DType.F32, shape);
        float[] d = (float[]) a.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        return a;
    }
}
