package dev.kiln.codegen.cuda;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.ir.TensorType.f32;

/// PERF.md's MNISTNet (conv 1->32 3x3 pad 1, relu, max-pool 2, conv 32->64 3x3 pad 1, relu,
/// max-pool 2, linear 3136->10) built directly with the IR builder: the inference graph and a
/// whole training step (forward, mean cross-entropy on one-hot targets, a hand-written
/// backward, Adam). Stand-ins until the frontend traces the same model: the benchmark and the
/// GPU tests use them for the figures PERF.md compares against.
final class Models {
    private Models() {}

    static final Ints ONE = Ints.of(1, 1);
    static final String[] PARAMS = {"conv1.w", "conv1.b", "conv2.w", "conv2.b", "fc.w", "fc.b"};
    static final TensorType[] PARAM_TYPES = {f32(32, 1, 3, 3), f32(32), f32(64, 32, 3, 3), f32(64), f32(10, 3136), f32(10)};

    record Forward(Value x, Value c1, Value r1, Value p1, Value c2, Value r2, Value p2, Value flat, Value logits) {}

    static Value conv(Builder b, Value x, Value w, Value bias) {
        Value y = b.conv2d(x, w, ONE, ONE, ONE, 1);
        return b.add(y, b.broadcast(bias, Axes.of(1), y.type()));
    }

    static Value pool(Builder b, Value x, int c, int h) {
        return b.reduceMax(b.reshape(x, f32("B", c, h / 2, 2, h / 2, 2)), Axes.of(3, 5));
    }

    static Forward forward(Builder b, Value x, List<Value> p) {
        Value c1 = conv(b, x, p.get(0), p.get(1)), r1 = b.relu(c1), p1 = pool(b, r1, 32, 28);
        Value c2 = conv(b, p1, p.get(2), p.get(3)), r2 = b.relu(c2), p2 = pool(b, r2, 64, 14);
        Value flat = b.reshape(p2, f32("B", 3136));
        Value logits = b.add(b.matmul(flat, b.transpose(p.get(4), Axes.of(1, 0))), b.broadcast(p.get(5), Axes.of(1), f32("B", 10)));
        return new Forward(x, c1, r1, p1, c2, r2, p2, flat, logits);
    }

    static Graph inference() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 1, 28, 28));
        List<Value> p = new ArrayList<>();
        for (int i = 0; i < PARAMS.length; i++) p.add(b.param(PARAMS[i], PARAM_TYPES[i]));
        return b.build("mnist_inference", forward(b, x, p).logits());
    }

    /// Gradient of a 2x2 max-pool: to every position equal to its window's maximum.
    static Value poolBack(Builder b, Value in, Value out, Value g, int c, int h) {
        TensorType win = f32("B", c, h / 2, 2, h / 2, 2);
        Value xin = b.reshape(in, win);
        Value m = b.broadcast(out, Axes.of(0, 1, 2, 4), win), gw = b.broadcast(g, Axes.of(0, 1, 2, 4), win);
        return b.reshape(b.select(b.eq(xin, m), gw, b.constant(0, win)), in.type());
    }

    static Value reluBack(Builder b, Value pre, Value g) {
        Value zero = b.constant(0, pre.type());
        return b.select(b.gt(pre, zero), g, zero);
    }

    /// (x, onehot, step, params..., adam m..., adam v...) -> (loss, new params..., new m..., new v...)
    static Graph trainStep() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 1, 28, 28)), y = b.param("onehot", f32("B", 10));
        List<Value> p = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>();
        for (int i = 0; i < PARAMS.length; i++) p.add(b.param(PARAMS[i], PARAM_TYPES[i]));
        for (int i = 0; i < PARAMS.length; i++) m.add(b.param("m." + PARAMS[i], PARAM_TYPES[i]));
        for (int i = 0; i < PARAMS.length; i++) v.add(b.param("v." + PARAMS[i], PARAM_TYPES[i]));
        Forward f = forward(b, x, p);
        TensorType lt = f32("B", 10);
        // mean cross-entropy: -(1/B) sum onehot * log_softmax(logits)
        Value mx = b.broadcast(b.reduceMax(f.logits(), Axes.of(1)), Axes.of(0), lt);
        Value z = b.sub(f.logits(), mx);
        Value lse = b.broadcast(b.log(b.reduceSum(b.exp(z), Axes.of(1))), Axes.of(0), lt);
        Value logp = b.sub(z, lse);
        Value count = b.reduceSum(b.reduceSum(y, Axes.of(1)), Axes.of(0)); // B (one-hot rows)
        Value loss = b.div(b.neg(b.reduceSum(b.mul(y, logp), Axes.of(0, 1))), count);
        // backward
        Value gl = b.div(b.sub(b.exp(logp), y), b.broadcast(count, Axes.of(), lt));
        Value gfcw = b.matmul(b.transpose(gl, Axes.of(1, 0)), f.flat());
        Value gfcb = b.reduceSum(gl, Axes.of(0));
        Value gflat = b.matmul(gl, p.get(4));
        Value gp2 = b.reshape(gflat, f.p2().type());
        Value gc2 = reluBack(b, f.c2(), poolBack(b, f.r2(), f.p2(), gp2, 64, 14));
        Value gc2w = b.conv2dGradWeight(f.p1(), gc2, ONE, ONE, ONE, 1, PARAM_TYPES[2]);
        Value gc2b = b.reduceSum(gc2, Axes.of(0, 2, 3));
        Value gp1 = b.conv2dGradInput(gc2, p.get(2), ONE, ONE, ONE, 1, f.p1().type());
        Value gc1 = reluBack(b, f.c1(), poolBack(b, f.r1(), f.p1(), gp1, 32, 28));
        Value gc1w = b.conv2dGradWeight(x, gc1, ONE, ONE, ONE, 1, PARAM_TYPES[0]);
        Value gc1b = b.reduceSum(gc1, Axes.of(0, 2, 3));
        List<Value> grads = List.of(gc1w, gc1b, gc2w, gc2b, gfcw, gfcb);
        // Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8; bias corrections of step 1 folded in
        List<Value> out = new ArrayList<>(List.of(loss)), newM = new ArrayList<>(), newV = new ArrayList<>();
        for (int i = 0; i < PARAMS.length; i++) {
            TensorType t = PARAM_TYPES[i];
            Value g = grads.get(i);
            Value mi = b.add(b.mul(m.get(i), b.constant(0.9, t)), b.mul(g, b.constant(0.1, t)));
            Value vi = b.add(b.mul(v.get(i), b.constant(0.999, t)), b.mul(b.mul(g, g), b.constant(0.001, t)));
            Value mhat = b.div(mi, b.constant(0.1, t)), vhat = b.div(vi, b.constant(0.001, t));
            Value step = b.div(b.mul(mhat, b.constant(1e-3, t)), b.add(b.sqrt(vhat), b.constant(1e-8, t)));
            out.add(b.sub(p.get(i), step));
            newM.add(mi);
            newV.add(vi);
        }
        out.addAll(newM);
        out.addAll(newV);
        return b.build("mnist_train_step", out);
    }
}
