package dev.kiln.passes.fusion;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Value;

import dev.kiln.ir.TensorType;

import static dev.kiln.ir.TensorType.f32;

/// Two-layer perceptrons for the fusion tests, built with locations.
final class Mlp {
    private Mlp() {}

    /// 784-128-10 with relu and a cross-entropy against integer classes (the row maximum, a
    /// log-sum-exp, a one-hot made with iota), averaged over the batch of 32.
    static Graph crossEntropy() {
        Builder b = new Builder();
        Value x = b.param("x", f32(32, 784)), target = b.param("target", TensorType.i64(32));
        Value w1 = b.param("fc1.w", f32(784, 128)), b1 = b.param("fc1.b", f32(128));
        Value w2 = b.param("fc2.w", f32(128, 10)), b2 = b.param("fc2.b", f32(10));
        Value h, logits;
        try (var _ = b.at(Loc.of("Mlp.java", 18, "fc1"))) { h = b.relu(b.add(b.matmul(x, w1), b.broadcast(b1, Axes.of(1), f32(32, 128)))); }
        try (var _ = b.at(Loc.of("Mlp.java", 19, "fc2"))) { logits = b.add(b.matmul(h, w2), b.broadcast(b2, Axes.of(1), f32(32, 10))); }
        try (var _ = b.at(Loc.of("Train.java", 12))) {
            Value m = b.reduceMax(logits, Axes.of(1));
            Value shifted = b.sub(logits, b.broadcast(m, Axes.of(0), f32(32, 10)));
            Value lse = b.add(b.log(b.reduceSum(b.exp(shifted), Axes.of(1))), m);
            Value hot = b.eq(b.iota(1, TensorType.i64(32, 10)), b.broadcast(target, Axes.of(0), TensorType.i64(32, 10)));
            Value oneHot = b.select(hot, b.constant(1.0, f32(32, 10)), b.constant(0.0, f32(32, 10)));
            Value picked = b.reduceSum(b.mul(oneHot, logits), Axes.of(1));
            Value total = b.reduceSum(b.sub(lse, picked), Axes.of(0));
            return b.build("mlp", b.mul(total, b.constant(1.0 / 32, f32())));
        }
    }

    /// The training step of STYLE.md: forward, MSE loss, and the backward written out by hand
    /// as the autodiff pass emits it.
    static Graph trainStep() {
        Builder b = new Builder();
        Value x = b.param("x", f32(32, 784)), y = b.param("y", f32(32, 10));
        Value w1 = b.param("fc1.w", f32(784, 128)), b1 = b.param("fc1.b", f32(128));
        Value w2 = b.param("fc2.w", f32(128, 10)), b2 = b.param("fc2.b", f32(10));
        Loc fc1 = Loc.of("Mlp.java", 18, "fc1"), act = Loc.of("Mlp.java", 18), fc2 = Loc.of("Mlp.java", 19, "fc2"),
                loss = Loc.of("Train.java", 12);
        Value h0, h, o, d, l, c;
        try (var _ = b.at(fc1)) { h0 = b.add(b.matmul(x, w1), b.broadcast(b1, Axes.of(1), f32(32, 128))); }
        try (var _ = b.at(act)) { h = b.relu(h0); }
        try (var _ = b.at(fc2)) { o = b.add(b.matmul(h, w2), b.broadcast(b2, Axes.of(1), f32(32, 10))); }
        try (var _ = b.at(loss)) {
            d = b.sub(o, y);
            c = b.constant(1.0 / 320, f32());
            l = b.mul(b.reduceSum(b.mul(d, d), Axes.of(0, 1)), c);
        }
        Value gd, gh, gw1, gb1, gw2, gb2;
        try (var _ = b.at(new Loc.Grad(loss))) {
            Value g = b.mul(b.constant(1.0, f32()), c);
            Value gm = b.mul(b.broadcast(g, Axes.of(), f32(32, 10)), d);
            gd = b.add(gm, gm);
        }
        try (var _ = b.at(new Loc.Grad(fc2))) {
            gb2 = b.reduceSum(gd, Axes.of(0));
            gh = b.matmul(gd, b.transpose(w2, Axes.of(1, 0)));
            gw2 = b.matmul(b.transpose(h, Axes.of(1, 0)), gd);
        }
        Value gz;
        try (var _ = b.at(new Loc.Grad(act))) {
            Value zero = b.constant(0.0, f32(32, 128));
            gz = b.select(b.gt(h0, zero), gh, zero);
        }
        try (var _ = b.at(new Loc.Grad(fc1))) {
            gb1 = b.reduceSum(gz, Axes.of(0));
            gw1 = b.matmul(b.transpose(x, Axes.of(1, 0)), gz);
        }
        return b.build("mlp_train_step", l, gw1, gb1, gw2, gb2);
    }
}
