package dev.kiln.bench;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;

import java.util.Arrays;

/// A quick look at the compiled MNISTNet train step (forward, cross-entropy, backward, Adam)
/// at batch 64 through the backend named by `-Dkiln.backend` (set it to `jvm`): compile time,
/// then median and best step time. `-Dkiln.profile=true` adds time per kernel.
public final class TrainQuick {
    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 300;
        Kiln.manualSeed(0);
        MnistModel model = new MnistModel();
        CrossEntropyLoss criterion = new CrossEntropyLoss();
        Adam opt = new Adam(model.parameters(), 1e-3);
        Tensor x = Tensor.rand(batch, 1, 28, 28);
        long[] labels = new long[batch];
        for (int i = 0; i < batch; i++) labels[i] = i % 10;
        Tensor y = Tensor.of(dev.kiln.runtime.NdArray.of(labels, batch));
        long t0 = System.nanoTime();
        TrainStep step = Kiln.compileTrainStep(model, criterion, opt, x, y);
        float first = step.step(x, y).item();
        System.out.printf("compile + first step %.1f ms (loss %.4f), backend %s%n", (System.nanoTime() - t0) / 1e6, first, Kiln.backend().name());
        long[] t = new long[steps];
        float loss = 0;
        for (int i = 0; i < steps; i++) {
            long s = System.nanoTime();
            loss = step.step(x, y).item();
            t[i] = System.nanoTime() - s;
        }
        long[] tail = Arrays.copyOfRange(t, steps / 2, steps);
        Arrays.sort(tail);
        System.out.printf("batch %d: median %.3f ms, best %.3f ms, %.0f img/s (median), loss after %d steps %.4f%n",
                batch, tail[tail.length / 2] / 1e6, tail[0] / 1e6, batch / (tail[tail.length / 2] / 1e9), steps + 1, loss);
    }
}
