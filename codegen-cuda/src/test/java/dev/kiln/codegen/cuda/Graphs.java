package dev.kiln.codegen.cuda;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.Function;

import static dev.kiln.ir.TensorType.f32;

/// The graphs the CUDA backend is checked on: every op of the IR on every dtype the
/// interpreter gives it (the same families as the JVM backend's parity tests), the layers of a
/// small training step (softmax, cross-entropy, MLP and convolution forward and backward), and
/// random elementwise/reduction graphs. Each comes with the symbol bindings to run it at.
final class Graphs {
    private Graphs() {}

    record Case(String name, Graph graph, List<Map<String, Integer>> bindings) {
        @Override public String toString() { return name; }
    }

    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};
    static final DType[] NUMERIC = {DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32, DType.I64};

    static Map<String, Integer> bind(Object... kv) {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Integer) kv[i + 1]);
        return m;
    }

    static List<Case> all() {
        List<Case> out = new ArrayList<>();
        ops(out);
        layers(out);
        fused(out);
        add(out, "mnist_inference", Models.inference(), bind("B", 1), bind("B", 3));
        add(out, "mnist_train_step", Models.trainStep(), bind("B", 2));
        add(out, "mnist_inference_fused", fuse(Models.inference()), bind("B", 1), bind("B", 3));
        add(out, "mnist_train_step_fused", fuse(Models.trainStep()), bind("B", 2));
        random(out, 12);
        for (int i = 0; i < 6; i++) {
            Case c = out.get(out.size() - 12 + i);
            add(out, c.name() + "_fused", fuse(c.graph()), c.bindings().toArray(Map[]::new));
        }
        return out;
    }

    /// The f32 graphs with convolutions (the models among them), which run as implicit GEMMs
    /// by default and also have the loop-nest path.
    static boolean hasConv(Case c) { return c.name().matches("conv\\d+_F32|conv_(block|tiles).*|fused_(conv|grad|cnn).*|mnist_.*"); }

    static void add(List<Case> out, String name, Graph g, Map<String, Integer>... b) {
        out.add(new Case(name, g, b.length == 0 ? List.of(Map.of()) : List.of(b)));
    }

    static Graph unary(DType d, Function<Builder, Function<Value, Value>> f) {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(d, "B", 5));
        return b.build("unary", f.apply(b).apply(x));
    }

    static Graph binary(DType d, Function<Builder, BiFunction<Value, Value, Value>> f) {
        Builder b = new Builder();
        Value x = b.param("x", TensorType.of(d, "B", 7)), y = b.param("y", TensorType.of(d, "B", 7));
        return b.build("binary", f.apply(b).apply(x, y));
    }

    @SuppressWarnings("unchecked")
    static void ops(List<Case> out) {
        String[] un = {"neg", "abs", "sign", "relu", "exp", "log", "sqrt", "tanh"};
        List<Function<Builder, Function<Value, Value>>> unf = List.of(b -> b::neg, b -> b::abs, b -> b::sign, b -> b::relu,
                b -> b::exp, b -> b::log, b -> b::sqrt, b -> b::tanh);
        for (DType d : FLOATS)
            for (int i = 0; i < un.length; i++) add(out, un[i] + "_" + d, unary(d, unf.get(i)), bind("B", 3), bind("B", 1));
        for (DType d : new DType[]{DType.I32, DType.I64})
            for (int i = 0; i < 4; i++) add(out, un[i] + "_" + d, unary(d, unf.get(i)), bind("B", 4));
        add(out, "not_bool", unary(DType.BOOL, b -> b::not), bind("B", 4));

        String[] bn = {"add", "sub", "mul", "div", "max", "min"};
        List<Function<Builder, BiFunction<Value, Value, Value>>> bnf = List.of(b -> b::add, b -> b::sub, b -> b::mul, b -> b::div,
                b -> b::max, b -> b::min);
        for (DType d : NUMERIC)
            for (int i = 0; i < bn.length; i++) add(out, bn[i] + "_" + d, binary(d, bnf.get(i)), bind("B", 3));
        for (DType d : NUMERIC) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, 6)), y = b.param("y", TensorType.of(d, 6));
            Value e = d.isInteger() ? b.div(y, b.constant(5, TensorType.of(d, 6))) : y;
            add(out, "pow_" + d, b.build("pow", b.pow(x, e)));
        }
        String[] cmp = {"eq", "ne", "lt", "le", "gt", "ge"};
        List<Function<Builder, BiFunction<Value, Value, Value>>> cmpf = List.of(b -> b::eq, b -> b::ne, b -> b::lt, b -> b::le,
                b -> b::gt, b -> b::ge);
        for (DType d : NUMERIC)
            for (int i = 0; i < cmp.length; i++) add(out, cmp[i] + "_" + d, binary(d, cmpf.get(i)), bind("B", 5));
        String[] logic = {"and", "or", "eq", "ne"};
        List<Function<Builder, BiFunction<Value, Value, Value>>> logicf = List.of(b -> b::and, b -> b::or, b -> b::eq, b -> b::ne);
        for (int i = 0; i < logic.length; i++) add(out, logic[i] + "_bool", binary(DType.BOOL, logicf.get(i)), bind("B", 5));
        {
            Builder b = new Builder();
            Value x = b.param("x", f32(6));
            Value n = b.sqrt(x);
            Value z = b.constant(0, f32(6));
            add(out, "nan_compare", b.build("nan", b.lt(n, z), b.le(n, z), b.gt(n, z), b.ge(n, z), b.eq(n, n), b.ne(n, n), b.relu(n), b.max(n, z)));
        }
        for (DType from : DType.values())
            for (DType to : DType.values()) {
                Builder b = new Builder();
                Value x = b.param("x", TensorType.of(from, "B", 6));
                add(out, "cast_" + from + "_" + to, b.build("cast", b.cast(x, to)), bind("B", 2));
            }
        for (DType d : DType.values()) {
            Builder b = new Builder();
            Value c = b.param("c", TensorType.bool("B", 4)), x = b.param("x", TensorType.of(d, "B", 4)), y = b.param("y", TensorType.of(d, "B", 4));
            add(out, "select_" + d, b.build("select", b.select(c, x, y)), bind("B", 3));
        }
        for (DType d : DType.values()) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, 2, 3));
            Value k = b.constant(1, TensorType.of(d, 2, 3));
            Value io = b.iota(1, TensorType.of(d == DType.BOOL ? DType.I32 : d, 2, 3));
            add(out, "leaves_" + d, b.build("leaves", k, io, x));
        }
        {
            Builder b = new Builder();
            Value seed = b.param("seed", TensorType.i64());
            Value dense = b.dense(new DenseData(NdArray.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3)));
            Value x = b.param("x", f32(2, 3));
            add(out, "rand", b.build("rand", b.randomUniform(seed, f32(4, 5)), b.randomUniform(seed, TensorType.f64(3)), b.add(x, dense), dense));
        }
        for (DType d : new DType[]{DType.F32, DType.I64, DType.BOOL, DType.F16}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 3, 4));
            Value v = b.param("v", TensorType.of(d, 4));
            Value one = b.param("one", TensorType.of(d, 1, 4));
            add(out, "layout_" + d, b.build("layout",
                    b.broadcast(v, Axes.of(2), TensorType.of(d, "B", 3, 4)),
                    b.broadcast(one, Axes.of(1, 2), TensorType.of(d, "B", 5, 4)),
                    b.reshape(x, TensorType.of(d, "B", 12)),
                    b.reshape(x, TensorType.of(d, "B", 2, 6)),
                    b.transpose(x, Axes.of(2, 0, 1)),
                    b.slice(x, 2, 1, 4, 2),
                    b.pad(x, 1, 2, 1, 1.0),
                    b.concat(List.of(x, b.slice(x, 1, 0, 2, 1), x), 1),
                    b.transpose(b.reshape(x, TensorType.of(d, "B", 2, 6)), Axes.of(2, 1, 0))),
                    bind("B", 2), bind("B", 1));
        }
        for (DType d : NUMERIC) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 3, 5));
            add(out, "reduce_" + d, b.build("reduce",
                    b.reduceSum(x, Axes.of(0)), b.reduceSum(x, Axes.of(2)), b.reduceSum(x, Axes.of(0, 1, 2)),
                    b.reduceSum(x, Axes.of(0, 2)), b.reduceMax(x, Axes.of(1)), b.reduceMax(x, Axes.of(0, 2)),
                    b.argmax(x, 0), b.argmax(x, 2)),
                    bind("B", 4), bind("B", 1), bind("B", 300));
            Builder e = new Builder();
            Value y = e.param("x", TensorType.of(d, "B", 3, 5));
            add(out, "reduce_empty_" + d, e.build("reduce_empty", e.reduceSum(y, Axes.of(0)), e.reduceMax(y, Axes.of(0, 2)), e.argmax(y, 2)),
                    bind("B", 0));
        }
        for (DType d : new DType[]{DType.F32, DType.F64, DType.BF16}) {
            // reduce_max's gradient, with ties (relu's zeros): one axis, and two with a symbolic one
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 4, 6));
            Value g1 = b.param("g1", TensorType.of(d, "B", 6)), g2 = b.param("g2", TensorType.of(d, 4));
            Value r = b.relu(x);
            add(out, "reduce_max_grad_" + d, b.build("reduce_max_grad",
                    b.reduceMaxGrad(r, b.reduceMax(r, Axes.of(1)), g1, Axes.of(1)),
                    b.reduceMaxGrad(x, b.reduceMax(x, Axes.of(0, 2)), g2, Axes.of(0, 2))),
                    bind("B", 3), bind("B", 1));
        }
        {
            Builder b = new Builder();
            Value x = b.param("x", f32(4, 6));
            Value r = b.relu(x);
            add(out, "argmax_nan_ties", b.build("argmax", b.argmax(b.sqrt(x), 1), b.argmax(r, 1), b.argmax(b.neg(r), 0)));
        }
        for (DType d : new DType[]{DType.F32, DType.F64, DType.I32, DType.I64, DType.F16}) {
            Builder b = new Builder();
            Value x = b.param("x", TensorType.of(d, "B", 33)), w = b.param("w", TensorType.of(d, 33, 17));
            Value xb = b.param("xb", TensorType.of(d, 3, 5, 7)), wb = b.param("wb", TensorType.of(d, 3, 7, 9));
            Value wt = b.param("wt", TensorType.of(d, 17, 33));
            add(out, "matmul_" + d, b.build("matmul", b.matmul(x, w), b.matmul(xb, wb), b.matmul(x, b.transpose(wt, Axes.of(1, 0))),
                    b.matmul(b.transpose(x, Axes.of(1, 0)), b.matmul(x, w))), bind("B", 5), bind("B", 1), bind("B", 70));
        }
        {
            Builder b = new Builder();
            Value x = b.param("x", f32(301, 260)), w = b.param("w", f32(260, 129));
            Value xt = b.param("xt", f32(260, 301));
            add(out, "matmul_big", b.build("big", b.matmul(x, w), b.matmul(b.transpose(xt, Axes.of(1, 0)), w)));
        }
        int ci = 0;
        for (Conv q : List.of(new Conv(2, 3, 7, 6, 4, 3, 1, 1, 1, 1), new Conv(3, 4, 9, 9, 6, 3, 2, 0, 1, 2),
                new Conv(1, 2, 8, 7, 3, 2, 1, 2, 2, 1), new Conv(2, 4, 5, 5, 4, 1, 1, 0, 1, 1), new Conv(2, 4, 6, 6, 8, 3, 2, 1, 1, 4))) {
            for (DType d : new DType[]{DType.F32, DType.F64, DType.BF16})
                add(out, "conv" + ci + "_" + d, q.graph(d), bind("N", q.n()), bind("N", 1));
            ci++;
        }
        // the implicit GEMMs past one tile: M = 70 output channels (two row tiles, the second
        // part full), N = batch*240 columns, K = 180 (not a multiple of 16); a strided, grouped
        // one; and a weight gradient whose K = batch*196 is split across blocks (31 splits at 40)
        for (Conv q : List.of(new Conv(3, 20, 16, 15, 70, 3, 1, 1, 1, 1), new Conv(2, 12, 13, 13, 10, 3, 2, 1, 1, 2),
                new Conv(40, 4, 14, 14, 8, 3, 1, 1, 1, 1)))
            add(out, "conv_tiles" + ci++, q.graph(DType.F32), bind("N", q.n()), bind("N", 1));
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 3));
            Value r = b.reshape(x, f32("B", 3, 1));
            Value y = b.relu(x);
            add(out, "passthrough", b.build("passthrough", x, y, y, r, b.reshape(y, f32(Shape.of("B", 3).dims().toArray()))), bind("B", 2));
        }
    }

    /// A convolution geometry (square kernel, equal strides, padding and dilation on both axes)
    /// and a batch size to run it at.
    record Conv(int n, int c, int h, int w, int o, int k, int stride, int pad, int dil, int groups) {
        /// `x[N,c,h,w]`, `w`, `g` (the output gradient) -> (conv2d, its input gradient, its weight gradient).
        Graph graph(DType d) {
            Builder b = new Builder();
            Ints s = Ints.of(stride, stride), p = Ints.of(pad, pad), dl = Ints.of(dil, dil);
            Value x = b.param("x", TensorType.of(d, "N", c, h, w));
            Value wt = b.param("w", TensorType.of(d, o, c / groups, k, k));
            Value y = b.conv2d(x, wt, s, p, dl, groups);
            Value g = b.param("g", y.type());
            return b.build("conv", y, b.conv2dGradInput(g, wt, s, p, dl, groups, x.type()), b.conv2dGradWeight(x, g, s, p, dl, groups, wt.type()));
        }
    }

    /// Softmax, cross-entropy, a linear layer with its gradients, and a conv-relu-pool block:
    /// the kernels of a training step.
    static void layers(List<Case> out) {
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 10));
            Value m = b.reduceMax(x, Axes.of(1));
            Value sh = b.sub(x, b.broadcast(m, Axes.of(0), f32("B", 10)));
            Value e = b.exp(sh);
            Value s = b.reduceSum(e, Axes.of(1));
            Value sm = b.div(e, b.broadcast(s, Axes.of(0), f32("B", 10)));
            Value lse = b.add(b.log(s), m);
            add(out, "softmax", b.build("softmax", sm, lse), bind("B", 64), bind("B", 1), bind("B", 700));
        }
        {
            // mean cross-entropy with one-hot targets, and its gradient
            Builder b = new Builder();
            Value x = b.param("logits", f32("B", 10)), y = b.param("onehot", f32("B", 10));
            Value m = b.reduceMax(x, Axes.of(1));
            Value sh = b.sub(x, b.broadcast(m, Axes.of(0), f32("B", 10)));
            Value s = b.reduceSum(b.exp(sh), Axes.of(1));
            Value logp = b.sub(sh, b.broadcast(b.log(s), Axes.of(0), f32("B", 10)));
            Value total = b.reduceSum(b.mul(logp, y), Axes.of(0, 1));
            Value loss = b.neg(total);
            Value p = b.exp(logp);
            Value grad = b.sub(p, y);
            add(out, "cross_entropy", b.build("xent", loss, grad), bind("B", 64), bind("B", 5000));
        }
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 784)), w = b.param("w", f32(784, 128)), bias = b.param("b", f32(128));
            Value g = b.param("g", f32("B", 128));
            Value h = b.relu(b.add(b.matmul(x, w), b.broadcast(bias, Axes.of(1), f32("B", 128))));
            Value gw = b.matmul(b.transpose(x, Axes.of(1, 0)), g);
            Value gb = b.reduceSum(g, Axes.of(0));
            Value gx = b.matmul(g, b.transpose(w, Axes.of(1, 0)));
            add(out, "linear_fwd_bwd", b.build("linear", h, gw, gb, gx), bind("B", 64), bind("B", 1));
        }
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("N", 1, 28, 28)), w = b.param("w", f32(8, 1, 3, 3)), bias = b.param("b", f32(8));
            Value y = b.conv2d(x, w, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
            Value r = b.relu(b.add(y, b.broadcast(bias, Axes.of(1), y.type())));
            // 2x2 max-pool as reshape + reduce_max
            Value v = b.reshape(r, f32("N", 8, 14, 2, 14, 2));
            Value pool = b.reduceMax(v, Axes.of(3, 5));
            Value gb = b.reduceSum(r, Axes.of(0, 2, 3));
            add(out, "conv_block", b.build("conv_block", pool, gb), bind("N", 4), bind("N", 1));
        }
    }

    /// `g` after the standard pipeline with fusion (simplify, fold, CSE, DCE, fuse).
    static Graph fuse(Graph g) {
        return dev.kiln.passes.PassManager.withFusion(dev.kiln.passes.PassManager.Options.none()).run(g);
    }

    /// Wraps `body` (one result) as a fused op over fresh params of the same types.
    static Graph fusedGraph(String name, Graph body) {
        Builder b = new Builder();
        List<Value> in = new ArrayList<>();
        for (Value p : body.params()) in.add(b.param(((dev.kiln.ir.Op.Param) p.op()).name(), p.type()));
        return b.build(name, b.fused(in, body, name));
    }

    /// Fused regions of the shapes fusion makes: a softmax row, a cross-entropy with class
    /// targets, library calls with elementwise epilogues, a conv + bias + relu then max-pool.
    static void fused(List<Case> out) {
        {
            Builder b = new Builder();
            TensorType t = f32("B", 10);
            Value x = b.param("x", t);
            Value m = b.broadcast(b.reduceMax(x, Axes.of(1)), Axes.of(0), t);
            Value e = b.exp(b.sub(x, m));
            Value sm = b.div(e, b.broadcast(b.reduceSum(e, Axes.of(1)), Axes.of(0), t));
            add(out, "fused_softmax", fusedGraph("softmax", b.build("softmax", sm)), bind("B", 1), bind("B", 64), bind("B", 3000));
        }
        {
            Builder b = new Builder();
            TensorType t = f32("B", 10);
            Value x = b.param("logits", t), y = b.param("target", TensorType.i64("B"));
            Value m = b.broadcast(b.reduceMax(x, Axes.of(1)), Axes.of(0), t);
            Value z = b.sub(x, m);
            Value lse = b.broadcast(b.log(b.reduceSum(b.exp(z), Axes.of(1))), Axes.of(0), t);
            Value onehot = b.cast(b.eq(b.iota(1, TensorType.i64("B", 10)), b.broadcast(y, Axes.of(0), TensorType.i64("B", 10))), DType.F32);
            Value nll = b.neg(b.reduceSum(b.mul(onehot, b.sub(z, lse)), Axes.of(0, 1)));
            add(out, "fused_xent", fusedGraph("xent", b.build("xent", nll)), bind("B", 5), bind("B", 64), bind("B", 4096));
        }
        {
            Builder b = new Builder();
            Value x = b.param("x", f32("B", 784)), w = b.param("w", f32(128, 784)), bias = b.param("b", f32(128));
            Value h = b.relu(b.add(b.matmul(x, b.transpose(w, Axes.of(1, 0))), b.broadcast(bias, Axes.of(1), f32("B", 128))));
            add(out, "fused_fc_relu", fusedGraph("fc_relu", b.build("fc_relu", h)), bind("B", 1), bind("B", 64));
        }
        {
            Builder cb = new Builder();
            Value cx = cb.param("x", f32("N", 8, 16, 16)), cw = cb.param("w", f32(16, 8, 3, 3)), bias = cb.param("b", f32(16));
            Value conv = cb.conv2d(cx, cw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1);
            Value act = cb.relu(cb.add(conv, cb.broadcast(bias, Axes.of(1), conv.type())));
            add(out, "fused_conv_relu", fusedGraph("conv_relu", cb.build("conv_relu", act)), bind("N", 4), bind("N", 1));
            Builder gb = new Builder();
            Value g = gb.param("g", f32("N", 16, 16, 16)), gw = gb.param("w", f32(16, 8, 3, 3));
            Value gi = gb.conv2dGradInput(g, gw, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, f32("N", 8, 16, 16));
            add(out, "fused_grad_in_relu", fusedGraph("grad_in_relu", gb.build("grad_in_relu", gb.relu(gi))), bind("N", 2));
            Builder wb = new Builder();
            Value wx = wb.param("x", f32("N", 8, 16, 16)), wg = wb.param("g", f32("N", 16, 16, 16));
            Value gwt = wb.conv2dGradWeight(wx, wg, Ints.of(1, 1), Ints.of(1, 1), Ints.of(1, 1), 1, f32(16, 8, 3, 3));
            add(out, "fused_grad_w_scaled", fusedGraph("grad_w_scaled", wb.build("grad_w_scaled", wb.mul(gwt, wb.constant(0.5, gwt.type())))),
                    bind("N", 3));
        }
        {
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
            add(out, "fused_cnn", b.build("cnn", p, b.reduceSum(b.reshape(p, f32("N", 64)), Axes.of(1))), bind("N", 3), bind("N", 1));
        }
    }

    /// Random elementwise graphs over shared inputs, with a reduction or a broadcast mixed in.
    static void random(List<Case> out, int count) {
        Random r = new Random(42);
        for (int c = 0; c < count; c++) {
            Builder b = new Builder();
            List<Value> vals = new ArrayList<>();
            vals.add(b.param("x", f32("B", 6)));
            vals.add(b.param("y", f32("B", 6)));
            int ops = 4 + r.nextInt(8);
            for (int i = 0; i < ops; i++) {
                Value a = vals.get(r.nextInt(vals.size())), z = vals.get(r.nextInt(vals.size()));
                Value v = switch (r.nextInt(11)) {
                    case 0 -> b.add(a, z);
                    case 1 -> b.sub(a, z);
                    case 2 -> b.mul(a, z);
                    case 3 -> b.max(a, z);
                    case 4 -> b.tanh(a);
                    case 5 -> b.relu(a);
                    case 6 -> b.exp(b.neg(b.abs(a)));
                    case 7 -> b.select(b.gt(a, z), a, z);
                    case 8 -> b.broadcast(b.reduceSum(a, Axes.of(1)), Axes.of(0), a.type());
                    case 9 -> b.broadcast(b.reduceMax(a, Axes.of(0)), Axes.of(1), a.type());
                    default -> b.div(a, b.add(b.abs(z), b.constant(1, z.type())));
                };
                vals.add(v);
            }
            add(out, "random" + c, b.build("random" + c, vals.getLast(), vals.get(vals.size() - 2)), bind("B", 3), bind("B", 257));
        }
    }
}
