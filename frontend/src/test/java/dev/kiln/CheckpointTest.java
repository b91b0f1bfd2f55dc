package dev.kiln;

import dev.kiln.data.Batch;
import dev.kiln.data.DataLoader;
import dev.kiln.data.TensorDataset;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Dropout;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Optimizer;
import dev.kiln.optim.SGD;
import dev.kiln.runtime.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/// A run stopped at a checkpoint and resumed in fresh objects computes exactly the losses and
/// weights of the run that never stopped.
class CheckpointTest {
    static final int EPOCHS = 2, BATCH = 8;

    /// 42 points in 3 classes: 5 batches of 8 and a last one of 2 per epoch.
    static TensorDataset data() {
        float[][] x = new float[42][2];
        long[] y = new long[42];
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < x.length; i++) {
            y[i] = i % 3;
            x[i][0] = (float) (y[i] + r.nextGaussian() * 0.5);
            x[i][1] = (float) (y[i] * y[i] - r.nextGaussian() * 0.5);
        }
        return new TensorDataset(Tensor.of(x), Tensor.of(y));
    }

    /// Dropout makes the losses depend on the random generator's state too.
    static Module model(long seed) {
        Kiln.manualSeed(seed);
        return new Sequential(new Linear(2, 16), new ReLU(), new Dropout(0.25), new Linear(16, 3));
    }

    /// Trains from (epoch, batch) to the end, or until `stop` (epoch * 100 + batch) batches, then
    /// saves a checkpoint there; returns the losses' bits.
    static List<Integer> train(Module net, Optimizer opt, boolean compiled, DataLoader<?> loader, int stop, Path ckpt) {
        var criterion = new CrossEntropyLoss();
        List<Integer> losses = new ArrayList<>();
        TrainStep step = null;
        for (int e = loader.epoch(); e < EPOCHS; e++) {
            var it = loader.iterator();
            while (it.hasNext()) {
                if (e * 100 + it.position() == stop) {
                    Checkpoint.save(ckpt, net, opt, e, it.position(), Map.of("note", "mid-epoch"));
                    it.close();
                    return losses;
                }
                Batch b = it.next();
                Tensor loss;
                if (compiled) {
                    if (step == null) step = Kiln.compileTrainStep(net, criterion, opt, b.input(), b.target());
                    loss = step.step(b.input(), b.target());
                } else {
                    opt.zeroGrad();
                    loss = criterion.forward(net.forward(b.input()), b.target());
                    loss.backward();
                    opt.step();
                }
                losses.add(Float.floatToRawIntBits(loss.item()));
            }
        }
        return losses;
    }

    /// A KilnException's message after its location prefix (`CheckpointTest.java:123: error: `).
    static void assertMessage(String expected, String message) {
        assertEquals(expected, message.substring(message.indexOf("error: ") + 7), message);
    }

    static DataLoader<?> loader() { return DataLoader.builder(data()).batchSize(BATCH).shuffle(true).seed(11).build(); }

    void resumesExactly(Function<Module, Optimizer> makeOptimizer, boolean compiled, Path dir) {
        Module whole = model(1);
        Optimizer wholeOpt = makeOptimizer.apply(whole);
        List<Integer> all = train(whole, wholeOpt, compiled, loader(), -1, null);
        assertEquals(12, all.size());

        Path ckpt = dir.resolve("ckpt.safetensors");
        Module first = model(1);
        List<Integer> before = train(first, makeOptimizer.apply(first), compiled, loader(), 100 + 2, ckpt);
        assertEquals(all.subList(0, 8), before);

        // Fresh objects, initialized differently: everything that matters must come from the file.
        Module second = model(99);
        Optimizer secondOpt = makeOptimizer.apply(second);
        if (compiled) { // a train step compiled before the load must see the loaded state
            var b = loader().iterator().next();
            Kiln.compileTrainStep(second, new CrossEntropyLoss(), secondOpt, b.input(), b.target());
        }
        Kiln.manualSeed(12345);
        var ckptInfo = Checkpoint.load(ckpt, second, secondOpt);
        assertEquals(1, ckptInfo.epoch());
        assertEquals(2, ckptInfo.batch());
        assertEquals(8, ckptInfo.step());
        assertEquals(8, secondOpt.stepCount());
        assertEquals("mid-epoch", ckptInfo.metadata().get("note"));
        var resumedLoader = loader();
        resumedLoader.setEpoch(ckptInfo.epoch(), ckptInfo.batch());
        List<Integer> after = train(second, secondOpt, compiled, resumedLoader, -1, null);
        assertEquals(all.subList(8, 12), after);
        whole.stateDict().forEach((k, t) ->
                assertArrayEquals(t.toFloatArray(), second.stateDict().get(k).toFloatArray(), 0f, k));
        assertEquals(wholeOpt.stepCount(), secondOpt.stepCount());
    }

    @Test void adamResumesExactly(@TempDir Path dir) { resumesExactly(m -> new Adam(m.parameters(), 0.01), false, dir); }

    @Test void sgdWithMomentumResumesExactly(@TempDir Path dir) {
        resumesExactly(m -> new SGD(m.parameters(), 0.05, 0.9), false, dir);
    }

    @Test void compiledTrainStepResumesExactly(@TempDir Path dir) {
        resumesExactly(m -> new Adam(m.parameters(), 0.01), true, dir);
    }

    @Test void compilingDrawsNothingFromTheGenerator() {
        Module net = model(1);
        Kiln.manualSeed(5);
        float[] expected = Tensor.rand(4).toFloatArray();
        Kiln.manualSeed(5);
        var b = loader().iterator().next();
        Kiln.compileTrainStep(net, new CrossEntropyLoss(), new Adam(net.parameters()), b.input(), b.target()); // traces a dropout
        Kiln.compile(net, b.input());
        assertArrayEquals(expected, Tensor.rand(4).toFloatArray());
    }

    @Test void theFileHoldsModelOptimizerAndPosition(@TempDir Path dir) throws Exception {
        Module net = model(1);
        Optimizer opt = new Adam(net.parameters(), 0.01);
        train(net, opt, false, loader(), 3, dir.resolve("c.safetensors"));
        var c = SafeTensors.readContents(dir.resolve("c.safetensors"));
        assertEquals(List.of("model.0.weight", "model.0.bias", "model.3.weight", "model.3.bias",
                "optim.0.exp_avg", "optim.0.exp_avg_sq", "optim.1.exp_avg", "optim.1.exp_avg_sq",
                "optim.2.exp_avg", "optim.2.exp_avg_sq", "optim.3.exp_avg", "optim.3.exp_avg_sq", "optim.step", "optim.lr"),
                List.copyOf(c.tensors().keySet()));
        assertEquals(3, c.tensors().get("optim.step").getLong(0));
        assertEquals(0.01, c.tensors().get("optim.lr").getDouble(0));
        assertArrayEquals(opt.state().get("1.exp_avg_sq").toFloatArray(), (float[]) c.tensors().get("optim.1.exp_avg_sq").data());
        assertEquals("kiln-checkpoint-1", c.metadata().get("format"));
        assertEquals("dev.kiln.optim.Adam", c.metadata().get("optimizer"));
        assertEquals("0", c.metadata().get("epoch"));
        assertEquals("3", c.metadata().get("batch"));
        assertTrue(c.metadata().get("generator").matches("[0-9a-f]{16}:[0-9a-f]{16}"), c.metadata().toString());
        try (var files = Files.list(dir)) { // written under a temporary name, then renamed: nothing else is left
            assertEquals(List.of(dir.resolve("c.safetensors")), files.toList());
        }
        var e = assertThrows(KilnException.class, () -> Checkpoint.save(dir.resolve("d"), net, opt, 0, 0, Map.of("epoch", "7")));
        assertTrue(e.getMessage().contains("error: Checkpoint.save: metadata key 'epoch' is reserved"), e.getMessage());
    }

    @Test void aCheckpointThatDoesNotFitChangesNothing(@TempDir Path dir) {
        Module net = model(1);
        Optimizer adam = new Adam(net.parameters(), 0.01);
        Path ckpt = dir.resolve("c.safetensors");
        train(net, adam, false, loader(), 2, ckpt);

        Module other = model(2);
        float[] w = other.stateDict().get("0.weight").toFloatArray();
        var sgd = new SGD(other.parameters(), 0.1, 0.9);
        var e = assertThrows(KilnException.class, () -> Checkpoint.load(ckpt, other, sgd));
        assertMessage("Checkpoint.load: " + ckpt + " holds the state of a dev.kiln.optim.Adam, not of the given dev.kiln.optim.SGD", e.getMessage());

        Module wider = new Sequential(new Linear(2, 17), new ReLU(), new Dropout(0.25), new Linear(17, 3));
        e = assertThrows(KilnException.class, () -> Checkpoint.load(ckpt, wider, new Adam(wider.parameters())));
        assertMessage("Checkpoint.load: " + ckpt + ": model.0.weight has shape [16,2], the model's 0.weight has shape [17,2]", e.getMessage());

        Module deeper = new Sequential(new Linear(2, 16), new ReLU(), new Dropout(0.25), new Linear(16, 3), new Linear(3, 3));
        e = assertThrows(KilnException.class, () -> Checkpoint.load(ckpt, deeper, new Adam(deeper.parameters())));
        assertMessage("Checkpoint.load: " + ckpt + " does not fit Sequential: missing model.[4.weight, 4.bias]", e.getMessage());

        Path weightsOnly = dir.resolve("w.safetensors");
        Kiln.save(net.stateDict(), weightsOnly);
        e = assertThrows(KilnException.class, () -> Checkpoint.load(weightsOnly, other, new Adam(other.parameters())));
        assertMessage("Checkpoint.load: " + weightsOnly + " is not a Kiln checkpoint (metadata format is missing, expected 'kiln-checkpoint-1')",
                e.getMessage());
        assertArrayEquals(w, other.stateDict().get("0.weight").toFloatArray());
        assertEquals(0, sgd.stepCount());
    }

    @Test void optimizerStateDictRoundTripsAndChecksKeys() {
        Module net = model(1);
        var opt = new SGD(net.parameters(), 0.1, 0.9);
        var sd = opt.stateDict();
        assertEquals(List.of("step", "lr"), List.copyOf(sd.keySet()));
        assertEquals(0, sd.get("step").itemLong());

        var bad = new java.util.LinkedHashMap<String, Tensor>(Map.of("step", Tensor.scalar(3L), "7.momentum_buffer", Tensor.zeros(3)));
        var e = assertThrows(KilnException.class, () -> opt.loadStateDict(bad));
        assertMessage("SGD.loadStateDict: unexpected key \"7.momentum_buffer\" (expected \"step\", \"lr\" and \"<param index>.<slot>\" with an index "
                        + "below 4)",
                e.getMessage());
        var shape = Map.of("step", Tensor.scalar(3L), "1.momentum_buffer", Tensor.zeros(3));
        e = assertThrows(KilnException.class, () -> opt.loadStateDict(shape));
        assertMessage("SGD.loadStateDict: size mismatch for \"1.momentum_buffer\": the state dict has shape [3], parameter 1 has shape [16]",
                e.getMessage());
        e = assertThrows(KilnException.class, () -> opt.loadStateDict(Map.of()));
        assertMessage("SGD.loadStateDict: the state dict has no \"step\" entry", e.getMessage());
        assertEquals(0, opt.stepCount());

        opt.loadStateDict(Map.of("step", Tensor.scalar(5L), "1.momentum_buffer", Tensor.ones(16)));
        assertEquals(5, opt.stepCount());
        assertEquals(0.1, opt.getLr(), "without \"lr\" the learning rate stays");
        opt.loadStateDict(Map.of("step", Tensor.scalar(5L), "1.momentum_buffer", Tensor.ones(16), "lr", Tensor.scalar(0.025)));
        assertEquals(0.025, opt.getLr());
        e = assertThrows(KilnException.class, () -> opt.loadStateDict(Map.of("step", Tensor.scalar(5L), "lr", Tensor.scalar(-1.0))));
        assertMessage("SGD.loadStateDict: \"lr\" must be one finite number of at least 0, got tensor(-1., dtype=f64)", e.getMessage());
        float[] ones = new float[16];
        java.util.Arrays.fill(ones, 1f);
        assertArrayEquals(ones, opt.state().get("1.momentum_buffer").toFloatArray());
        // A later load without that slot resets it to zeros, its value before any step.
        Tensor slot = opt.state().get("1.momentum_buffer");
        opt.loadStateDict(Map.of("step", Tensor.scalar(0L)));
        assertSame(slot, opt.state().get("1.momentum_buffer"));
        assertArrayEquals(new float[16], slot.toFloatArray());
    }
}
