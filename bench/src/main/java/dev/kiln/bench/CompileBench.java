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

/// What a user waits for: model to compiled MNISTNet train step (trace, autodiff, passes,
/// fusion, lowering, bytecode, class definition), measured once per fresh JVM (single shot,
/// JIT cold), 5 JVMs. The first step's run is not included.
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 5, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class CompileBench {
    MnistModel model;
    Tensor x, y;

    @Setup(Level.Invocation) public void setup() {
        Kiln.setBackend(Backend.named("jvm"));
        Kiln.manualSeed(0);
        model = new MnistModel();
        x = Tensor.rand(64, 1, 28, 28);
        long[] labels = new long[64];
        for (int i = 0; i < 64; i++) labels[i] = i % 10;
        y = Tensor.of(NdArray.of(labels, 64));
    }

    @Benchmark public TrainStep compileTrainStep() {
        return Kiln.compileTrainStep(model, new CrossEntropyLoss(), new Adam(model.parameters(), 1e-3), x, y);
    }
}
