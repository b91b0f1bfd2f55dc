package dev.kiln.bench;

import dev.kiln.codegen.jvm.JvmBackend;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.runtime.NdArray;
import org.openjdk.jmh.annotations.*;

import java.util.List;
import java.util.concurrent.TimeUnit;

/// MNISTNet inference through the JVM backend at batch 1 and 64, on 1 and on 2 threads (the
/// shared pool's size is fixed per fork by `-Dkiln.threads`). Score: ms per batch.
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
public abstract class MnistBench {
    @Param({"1", "64"}) int batch;

    PlanExecutable exe;
    List<NdArray> inputs, outputs;

    @Setup public void setup() {
        exe = JvmBackend.compile(MnistNet.forward());
        inputs = MnistNet.inputs(batch, 7);
        outputs = List.of(NdArray.zeros(dev.kiln.runtime.DType.F32, batch, 10));
    }

    @Benchmark public List<NdArray> forward() {
        return exe.run(inputs, outputs);
    }

    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Dkiln.threads=1"})
    public static class OneThread extends MnistBench {}

    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Dkiln.threads=2"})
    public static class TwoThreads extends MnistBench {}
}
