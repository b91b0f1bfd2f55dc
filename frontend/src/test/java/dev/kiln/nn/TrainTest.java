package dev.kiln.nn;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Optimizer;
import dev.kiln.optim.SGD;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TrainTest {
    /// Two Gaussian-ish blobs per class on a ring: class = which third of the angle a point lies in.
    static Tensor[] data(int n) {
        float[][] x = new float[n][2];
        long[] y = new long[n];
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < n; i++) {
            int c = i % 3;
            double a = 2 * Math.PI * c / 3 + r.nextGaussian() * 0.3;
            x[i][0] = (float) (2 * Math.cos(a) + r.nextGaussian() * 0.2);
            x[i][1] = (float) (2 * Math.sin(a) + r.nextGaussian() * 0.2);
            y[i] = c;
        }
        return new Tensor[]{Tensor.of(x), Tensor.of(y)};
    }

    double accuracy(Module net, Tensor x, Tensor y) {
        try (var _ = Kiln.noGrad()) {
            long[] pred = net.forward(x).argmax(1).toLongArray(), t = y.toLongArray();
            int ok = 0;
            for (int i = 0; i < t.length; i++) if (pred[i] == t[i]) ok++;
            return ok / (double) t.length;
        }
    }

    void trains(java.util.function.Function<Module, Optimizer> make) {
        Kiln.manualSeed(1);
        Tensor[] d = data(60);
        Module net = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 3));
        Optimizer opt = make.apply(net);
        var loss = new CrossEntropyLoss();
        float first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            opt.zeroGrad();
            Tensor l = loss.forward(net.forward(d[0]), d[1]);
            l.backward();
            opt.step();
            if (step == 0) first = l.item();
            last = l.item();
        }
        assertTrue(last < first * 0.5, first + " -> " + last);
        assertTrue(accuracy(net, d[0], d[1]) > 0.9, "accuracy " + accuracy(net, d[0], d[1]));
    }

    @Test void mlpTrainsWithSgd() { trains(net -> new SGD(net.parameters(), 0.1, 0.9)); }

    @Test void mlpTrainsWithAdam() { trains(net -> new Adam(net.parameters(), 0.02)); }
}
