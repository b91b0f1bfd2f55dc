package dev.kiln.bench;

import dev.kiln.codegen.jvm.rt.ConvKernels;

import java.util.Arrays;
import java.util.Random;

/// The three convolution kernels of MNISTNet's train step at batch 64 (conv1: 1->32 on 28x28,
/// conv2: 32->64 on 14x14, 3x3, padding 1), each called `reps` times on the threads of
/// `-Dkiln.threads`: best and median milliseconds a call. The best time is the one to compare
/// on a shared machine.
public final class ConvQuick {
    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int n = 64;
        int[][] layers = {{1, 28, 32}, {32, 14, 64}};
        Random r = new Random(1);
        for (int[] l : layers) {
            int c = l[0], hw = l[1], o = l[2];
            float[] x = rand(n * c * hw * hw, r), w = rand(o * c * 9, r), y = rand(n * o * hw * hw, r);
            String[] names = {"forward", "grad_input", "grad_weight"};
            for (int form = 0; form < 3; form++) {
                long[] t = new long[reps];
                for (int i = 0; i < reps; i++) {
                    long t0 = System.nanoTime();
                    ConvKernels.run(form, ConvKernels.F32, x, w, y, n, c, hw, hw, o, 3, 3, hw, hw, 1, 1, 1, 1, 1, 1, 1,
                            null, -1, null, null, 0, 0);
                    t[i] = System.nanoTime() - t0;
                }
                Arrays.sort(t);
                System.out.printf("conv %d->%d %dx%d %-11s best %6.3f ms  median %6.3f ms%n", c, o, hw, hw, names[form],
                        t[0] / 1e6, t[reps / 2] / 1e6);
            }
        }
    }

    static float[] rand(int n, Random r) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2 - 1;
        return a;
    }
}
