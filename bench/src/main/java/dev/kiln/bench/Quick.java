package dev.kiln.bench;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.ir.Graph;
import dev.kiln.runtime.NdArray;

import java.util.Arrays;
import java.util.List;

/// A quick look without JMH: compile time of MNISTNet forward, the kernel IR, and the median
/// and best latency of N calls at the given batch. `java ... dev.kiln.bench.Quick 1 64`
public final class Quick {
    public static void main(String[] args) {
        long t0 = System.nanoTime();
        Graph g = MnistNet.forward();
        PlanExecutable exe = JvmBackend.compile(g);
        System.out.printf("compile %.1f ms%n", (System.nanoTime() - t0) / 1e6);
        if (Boolean.getBoolean("dump")) System.out.println(JvmBackend.dumpKernels(g));
        for (String a : args) {
            int batch = Integer.parseInt(a);
            List<NdArray> in = MnistNet.inputs(batch, 7);
            List<NdArray> out = List.of(NdArray.zeros(dev.kiln.runtime.DType.F32, batch, 10));
            int n = batch == 1 ? 20000 : 1000;
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                if (i == n / 2 && exe.profile() != null) exe.enableProfile();
                long s = System.nanoTime();
                exe.run(in, out);
                t[i] = System.nanoTime() - s;
            }
            long[] tail = Arrays.copyOfRange(t, n / 2, n);
            Arrays.sort(tail);
            System.out.printf("batch %d: median %.3f ms, best %.3f ms, %.0f img/s (median); planned intermediates %d bytes (%d without reuse)%n",
                    batch, tail[tail.length / 2] / 1e6, tail[0] / 1e6, batch / (tail[tail.length / 2] / 1e9),
                    exe.plannedBytes(batch)[0], exe.plannedBytes(batch)[1]);
            if (exe.profile() != null) System.out.print(exe.profile().table()); // the second half of the calls
        }
    }
}
