package dev.kiln.bench;

import dev.kiln.codegen.jvm.rt.Gemm;
import dev.kiln.codegen.jvm.rt.Pool;
import org.openjdk.jmh.annotations.*;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/// sgemm 1024^3 (C = A @ B, row-major f32) on 1 and 2 threads. Score: ms per multiply;
/// GFLOP/s = 2.147 / ms.
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SgemmBench {
    @Param({"1024"}) int n;
    @Param({"1", "2"}) int threads;

    float[] a, b, c;
    Pool pool;

    @Setup public void setup() {
        Random r = new Random(1);
        a = new float[n * n];
        b = new float[n * n];
        c = new float[n * n];
        for (int i = 0; i < a.length; i++) { a[i] = r.nextFloat() - 0.5f; b[i] = r.nextFloat() - 0.5f; }
        pool = new Pool(threads);
        if (!Gemm.kernelName().equals(System.getProperty("kiln.expectKernel", Gemm.kernelName())))
            throw new IllegalStateException("micro-kernel is " + Gemm.kernelName());
    }

    @Benchmark public float[] sgemm() {
        Gemm.sgemmBatch(c, a, b, 1, n, n, n, false, false, pool);
        return c;
    }
}
