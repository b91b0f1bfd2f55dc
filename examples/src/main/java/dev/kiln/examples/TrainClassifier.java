package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.LogSoftmax;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MSELoss;
import dev.kiln.nn.Module;
import dev.kiln.nn.NLLLoss;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Optimizer;
import dev.kiln.optim.SGD;

import java.util.Random;

/// 6. Losses and optimizers: an MLP learns three interleaved spirals, with SGD (momentum) and with
/// Adam; NLLLoss and MSELoss shown on the side.
public class TrainClassifier {
    /// n points on three spiral arms; the target is the arm.
    static Tensor[] spirals(int n, long seed) {
        float[][] x = new float[n][2];
        long[] y = new long[n];
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            int c = i % 3;
            double t = (i / 3) / (double) (n / 3), angle = 4 * t + 2 * Math.PI * c / 3 + r.nextGaussian() * 0.1;
            x[i][0] = (float) (t * Math.cos(angle));
            x[i][1] = (float) (t * Math.sin(angle));
            y[i] = c;
        }
        return new Tensor[]{Tensor.of(x), Tensor.of(y)};
    }

    static double accuracy(Module net, Tensor x, Tensor y) {
        try (var _ = Kiln.noGrad()) {
            long[] pred = net.forward(x).argmax(1).toLongArray(), t = y.toLongArray();
            int ok = 0;
            for (int i = 0; i < t.length; i++) if (pred[i] == t[i]) ok++;
            return ok / (double) t.length;
        }
    }

    static double train(String name, java.util.function.Function<Module, Optimizer> makeOptimizer, int steps) {
        Kiln.manualSeed(0);
        Tensor[] d = spirals(150, 1);
        Module net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 32), new ReLU(), new Linear(32, 3));
        Optimizer opt = makeOptimizer.apply(net);
        CrossEntropyLoss criterion = new CrossEntropyLoss();
        for (int step = 0; step < steps; step++) {
            opt.zeroGrad();
            Tensor loss = criterion.forward(net.forward(d[0]), d[1]);
            loss.backward();
            opt.step();
            if (step % 100 == 0 || step == steps - 1) System.out.printf("%s step %3d  loss %.4f%n", name, step, loss.item());
        }
        double acc = accuracy(net, d[0], d[1]);
        System.out.printf("%s accuracy %.3f%n", name, acc);
        return acc;
    }

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 300;
        train("sgd ", net -> new SGD(net.parameters(), 0.5, 0.9), steps);
        train("adam", net -> new Adam(net.parameters(), 0.02), steps);

        Tensor logits = Tensor.of(new float[][]{{2, 0, -1}});
        Tensor target = Tensor.of(new long[]{0});
        System.out.println("cross-entropy " + new CrossEntropyLoss().forward(logits, target).item()
                + " = nll(logSoftmax) " + new NLLLoss().forward(new LogSoftmax(1).forward(logits), target).item());
        System.out.println("mse " + new MSELoss().forward(Tensor.of(new float[]{1, 2}), Tensor.of(new float[]{0, 0})).item());
    }
}
