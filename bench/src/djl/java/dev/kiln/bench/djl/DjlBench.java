package dev.kiln.bench.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/// The same workloads through libtorch (DJL 0.36.0, PyTorch 2.7.1 CPU), for ratios measured in
/// one run: sgemm 1024^3, MNISTNet inference (batch 1, 64) and train step (batch 64, Adam).
/// Only built with `-Pdjl`. Thread counts are fixed per fork through DJL's system properties.
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
public abstract class DjlBench {
    NDManager manager;
    NDArray a, b, x1, x64, y64;
    SequentialBlock net;
    ParameterStore ps;
    Model model;
    Trainer trainer;

    @Setup public void setup() {
        manager = NDManager.newBaseManager();
        a = manager.randomUniform(-0.5f, 0.5f, new Shape(1024, 1024));
        b = manager.randomUniform(-0.5f, 0.5f, new Shape(1024, 1024));
        x1 = manager.randomUniform(0, 1, new Shape(1, 1, 28, 28));
        x64 = manager.randomUniform(0, 1, new Shape(64, 1, 28, 28));
        float[] labels = new float[64];
        for (int i = 0; i < 64; i++) labels[i] = i % 10;
        y64 = manager.create(labels);
        net = DjlNets.mnistNet();
        net.initialize(manager, DataType.FLOAT32, new Shape(1, 1, 28, 28));
        ps = new ParameterStore(manager, false);
        model = Model.newInstance("mnist");
        model.setBlock(DjlNets.mnistNet());
        trainer = model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-3f)).build()));
        trainer.initialize(new Shape(64, 1, 28, 28));
    }

    @TearDown public void tearDown() {
        trainer.close();
        model.close();
        manager.close();
    }

    // DJL attaches an op's result to the manager of its first input. Each invocation therefore
    // works on copies of its inputs held by a sub-manager that it closes, so that every
    // intermediate (activations, the autograd graph) is freed per call, as a training loop over
    // DJL batches does. Reading the shared inputs directly would leave all of them attached to
    // the long-lived manager, and the run would measure a growing heap instead of libtorch.

    @Benchmark public float sgemm() {
        try (NDManager m = manager.newSubManager()) {
            NDArray c = a.matMul(b); // one result, no intermediates: no copy of the 4 MB input
            c.attach(m);
            return c.getFloat(0, 0);
        }
    }

    @Benchmark public float forwardBatch1() {
        try (NDManager m = manager.newSubManager()) {
            return net.forward(ps, new NDList(local(x1, m)), false).singletonOrThrow().getFloat(0, 0);
        }
    }

    @Benchmark public float forwardBatch64() {
        try (NDManager m = manager.newSubManager()) {
            return net.forward(ps, new NDList(local(x64, m)), false).singletonOrThrow().getFloat(0, 0);
        }
    }

    @Benchmark public float trainStepBatch64() {
        float loss;
        try (NDManager m = manager.newSubManager(); GradientCollector gc = trainer.newGradientCollector()) {
            NDList preds = trainer.forward(new NDList(local(x64, m)));
            NDArray l = trainer.getLoss().evaluate(new NDList(local(y64, m)), preds);
            gc.backward(l);
            loss = l.getFloat();
        }
        trainer.step();
        return loss;
    }

    /// A copy of `x` owned by `m`, so that what is computed from it is freed with `m`.
    private static NDArray local(NDArray x, NDManager m) {
        NDArray copy = x.duplicate();
        copy.attach(m);
        return copy;
    }

    @Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1",
            "-Dai.djl.default_engine=PyTorch"})
    public static class OneThread extends DjlBench {}

    @Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=2", "-Dai.djl.pytorch.num_interop_threads=1",
            "-Dai.djl.default_engine=PyTorch"})
    public static class TwoThreads extends DjlBench {}
}
