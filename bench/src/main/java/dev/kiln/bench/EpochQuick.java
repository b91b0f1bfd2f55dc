package dev.kiln.bench;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.data.Batch;
import dev.kiln.data.DataLoader;
import dev.kiln.data.FashionMnist;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;
import java.util.Iterator;

/// Where an epoch of the compiled MNISTNet step goes: runs the demo's loop (Fashion-MNIST,
/// batch 64, Adam 1e-3) in rounds of `block` steps each on real batches from the loader, on one
/// fixed real batch, and on one random batch, alternating; prints the median step time of each
/// mode, the time spent waiting for the loader and reading the loss, and the epoch's wall time.
/// Needs the full dataset; `-Dkiln.threads` sets the threads.
public final class EpochQuick {
    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        int block = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Kiln.manualSeed(0);
        MnistModel model = new MnistModel();
        var criterion = new CrossEntropyLoss();
        var opt = new Adam(model.parameters(), 1e-3);
        var loader = new DataLoader<>(FashionMnist.train(), 64, true);
        Iterator<Batch> it = loader.iterator();
        Batch fixed = it.next();
        Tensor rx = Tensor.rand(64, 1, 28, 28);
        long[] labels = new long[64];
        for (int i = 0; i < 64; i++) labels[i] = i % 10;
        Tensor ry = Tensor.of(NdArray.of(labels, 64));
        TrainStep step = Kiln.compileTrainStep(model, criterion, opt, fixed.input(), fixed.target());
        for (int i = 0; i < 100; i++) step.step(fixed.input(), fixed.target()).item();
        long[][] t = new long[3][rounds * block];
        long[][] cpu = new long[3][rounds * block];
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long[] wait = new long[rounds * block], read = new long[rounds * block];
        int[] n = new int[3];
        for (int r = 0; r < rounds; r++) {
            for (int mode = 0; mode < 3; mode++) {
                for (int i = 0; i < block; i++) {
                    long a = System.nanoTime();
                    Tensor x, y;
                    if (mode == 0) {
                        if (!it.hasNext()) it = loader.iterator();
                        Batch b = it.next();
                        x = b.input();
                        y = b.target();
                    } else if (mode == 1) { x = fixed.input(); y = fixed.target(); }
                    else { x = rx; y = ry; }
                    long b0 = System.nanoTime(), cpu0 = mx.getCurrentThreadCpuTime();
                    Tensor loss = step.step(x, y);
                    long c = System.nanoTime();
                    cpu[mode][n[mode]] = mx.getCurrentThreadCpuTime() - cpu0;
                    loss.item();
                    long d = System.nanoTime();
                    t[mode][n[mode]++] = c - b0;
                    if (mode == 0) { wait[n[0] - 1] = b0 - a; read[n[0] - 1] = d - c; }
                }
            }
        }
        String[] names = {"real batches", "one real batch", "one random batch"};
        for (int m = 0; m < 3; m++) System.out.printf("%-17s median %.2f ms, mean %.2f ms, main thread CPU median %.2f ms%n", names[m], median(t[m]), mean(t[m]), median(cpu[m]));
        System.out.printf("loader wait median %.3f ms mean %.3f ms; loss read mean %.3f ms%n", median(wait), mean(wait), mean(read));
    }

    static double median(long[] a) { long[] s = a.clone(); Arrays.sort(s); return s[s.length / 2] / 1e6; }
    static double mean(long[] a) { return Arrays.stream(a).average().orElse(0) / 1e6; }
}
