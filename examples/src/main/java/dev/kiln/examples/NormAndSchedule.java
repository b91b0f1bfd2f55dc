package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.nn.AdaptiveAvgPool2d;
import dev.kiln.nn.BatchNorm2d;
import dev.kiln.nn.Conv2d;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Flatten;
import dev.kiln.nn.GELU;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.AdamW;
import dev.kiln.optim.CosineAnnealingLR;

import java.util.Random;

/// 10. Normalization and schedules: a small CNN with BatchNorm2d, GELU and a global average pool
/// learns which shape an 8x8 image holds, trained by a compiled step with AdamW and a cosine
/// learning-rate schedule; BatchNorm's running statistics then serve eval mode.
public class NormAndSchedule {
    /// n noisy 8x8 images, each with one bright shape at a random place: a horizontal bar
    /// (class 0), a vertical bar (1) or a 2x2 spot (2). The global average pool keeps what the
    /// convolutions see, not where, which is all these classes need.
    static Tensor[] shapes(int n, long seed) {
        float[][][][] x = new float[n][1][8][8];
        long[] y = new long[n];
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            float[][] img = x[i][0];
            for (float[] row : img) for (int j = 0; j < 8; j++) row[j] = (float) (r.nextGaussian() * 0.3);
            int c = i % 3, a = r.nextInt(7), b = r.nextInt(5);
            for (int k = 0; k < 4; k++) {
                if (c == 0) img[a][b + k] += 2;                               // a bar of 4 along a row
                else if (c == 1) img[b + k][a] += 2;                          // a bar of 4 along a column
                else img[a + k / 2][Math.min(b, 6) + k % 2] += 2;              // a 2x2 spot
            }
            y[i] = c;
        }
        return new Tensor[]{Tensor.of(x), Tensor.of(y)};
    }

    public static void main(String[] args) {
        int epochs = args.length > 0 ? Integer.parseInt(args[0]) : 8, batch = 16;
        Kiln.manualSeed(0);
        Tensor[] d = shapes(96, 1);
        var model = new Sequential(new Conv2d(1, 8, 3, 1, 1), new BatchNorm2d(8), new GELU(), new Conv2d(8, 8, 3, 1, 1),
                new BatchNorm2d(8), new GELU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, 3));
        var criterion = new CrossEntropyLoss();
        var optimizer = new AdamW(model.parameters(), 0.05);
        var schedule = new CosineAnnealingLR(optimizer, epochs);
        TrainStep step = Kiln.compileTrainStep(model, criterion, optimizer, d[0].slice(0, 0, batch), d[1].slice(0, 0, batch));
        for (int epoch = 0; epoch < epochs; epoch++) {
            double sum = 0;
            for (int from = 0; from < 96; from += batch)
                sum += step.step(d[0].slice(0, from, from + batch), d[1].slice(0, from, from + batch)).item();
            System.out.printf("epoch %d  lr %.6f  mean loss %.4f%n", epoch, optimizer.getLr(), sum / (96 / batch));
            schedule.step();                                   // the next epoch's rate: an input of the compiled step
        }
        var bn = (BatchNorm2d) model.get(1);
        System.out.println("batches tracked: " + bn.numBatchesTracked.itemLong());
        model.eval();                                          // normalize with the running statistics
        Tensor[] test = shapes(60, 2);
        try (var _ = Kiln.noGrad()) {
            long[] pred = model.forward(test[0]).argmax(1).toLongArray(), t = test[1].toLongArray();
            int ok = 0;
            for (int i = 0; i < t.length; i++) if (pred[i] == t[i]) ok++;
            System.out.printf("eval accuracy %.3f%n", ok / (double) t.length);
        }
    }
}
