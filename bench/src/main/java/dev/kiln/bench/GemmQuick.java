package dev.kiln.bench;

import dev.kiln.codegen.jvm.rt.Gemm;

import java.util.Arrays;
import java.util.Random;

/// The narrow matrix products of MNISTNet's train step at batch 64, each called `reps` times
/// through `Gemm.sgemmBatch` on the threads of `-Dkiln.threads`: best and median microseconds
/// a call and GFLOP/s at the best. The best time is the one to compare on a shared machine.
public final class GemmQuick {
    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        // name, m, n, k, transposed A, transposed B
        Object[][] shapes = {{"linear forward  NT", 64, 10, 3136, false, true}, {"linear dX       NN", 64, 3136, 10, false, false},
                {"linear dW       TN", 3136, 10, 64, true, false}, {"conv1 dW (img)  NT", 32, 9, 784, false, true}};
        Random r = new Random(1);
        for (Object[] s : shapes) {
            int m = (int) s[1], n = (int) s[2], k = (int) s[3];
            boolean ta = (boolean) s[4], tb = (boolean) s[5];
            float[] a = ConvQuick.rand(m * k, r), b = ConvQuick.rand(k * n, r), c = new float[m * n];
            long[] t = new long[reps];
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                Gemm.sgemmBatch(c, a, b, 1, m, n, k, ta, tb);
                t[i] = System.nanoTime() - t0;
            }
            Arrays.sort(t);
            System.out.printf("gemm %s m=%d n=%d k=%d  best %7.1f us  median %7.1f us  %5.1f GFLOP/s%n", s[0], m, n, k,
                    t[0] / 1e3, t[reps / 2] / 1e3, 2.0 * m * n * k / t[0]);
        }
    }
}
