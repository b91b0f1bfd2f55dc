package dev.kiln.bench;

import dev.kiln.Backend;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;
import dev.kiln.runtime.NdArray;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/// The MNISTNet train step at batch 64 (forward, cross-entropy, backward, Adam), compiled once
/// by `Kiln.compileTrainStep` through the JVM backend. Score: ms per step; img/s = 64000 / ms.
/// Compile time is `CompileBench`.
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 8, time = 1)
@Measurement(iterations = 10, time = 1)
public abstract class TrainStepBench {
    @Param({"64"}) int batch;

    TrainStep step;
    Tensor x, y;

    @Setup public void setup() {
        Kiln.setBackend(Backend.named("jvm"));
        Kiln.manualSeed(0);
        MnistModel model = new MnistModel();
        x = Tensor.rand(batch, 1, 28, 28);
        long[] labels = new long[batch];
        for (int i = 0; i < batch; i++) labels[i] = i % 10;
        y = Tensor.of(NdArray.of(labels, batch));
        step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new Adam(model.parameters(), 1e-3), x, y);
    }

    @Benchmark public float trainStep() {
        return step.step(x, y).item();
    }

    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Dkiln.threads=1"})
    public static class OneThread extends TrainStepBench {}

    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Dkiln.threads=2"})
    public static class TwoThreads extends TrainStepBench {}
}
