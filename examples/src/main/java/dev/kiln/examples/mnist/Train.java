package dev.kiln.examples.mnist;

import dev.kiln.Checkpoint;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.data.Batch;
import dev.kiln.data.DataLoader;
import dev.kiln.data.Dataset;
import dev.kiln.data.Example;
import dev.kiln.data.FashionMnist;
import dev.kiln.data.Progress;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Module;
import dev.kiln.optim.Adam;
import dev.kiln.optim.Optimizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/// The seed program: MNISTNet trained on Fashion-MNIST with Adam (lr 1e-3), cross-entropy and
/// batches of 64, the test accuracy after every epoch, then the weights saved, loaded into a
/// fresh model and checked. With `--compiled` the same loop runs through `Kiln.compileTrainStep`:
/// forward, loss, backward and the Adam update as one compiled graph. A checkpoint (weights,
/// Adam's moments and step count, the data position) is written after every epoch, and
/// `--resume` goes on from it.
///
/// ```
/// Train [--epochs N] [--data DIR] [--subset N] [--compiled] [--out DIR] [--resume] [--seed S]
/// ```
///
/// Without `--data` the data is found as `FashionMnist.train()` finds it (`~/.kiln/data`, the
/// Debian package, else the embedded subset of 2,000 images). `--subset N` trains on the first N
/// training images; `--seed` seeds the initialization and the shuffling (default 0). Runs on the
/// default backend, the JVM's (`-Dkiln.backend` selects another).
public class Train {
    static final String USAGE = "Train [--epochs N] [--data DIR] [--subset N] [--compiled] [--out DIR] [--resume] [--seed S]";

    record Options(int epochs, Path data, int subset, boolean compiled, Path out, boolean resume, long seed) {
        static Options parse(String[] args) {
            int epochs = 2, subset = 0;
            long seed = 0;
            Path data = null, out = Path.of("mnist-out");
            boolean compiled = false, resume = false;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                    case "--data" -> data = Path.of(args[++i]);
                    case "--subset" -> subset = Integer.parseInt(args[++i]);
                    case "--compiled" -> compiled = true;
                    case "--out" -> out = Path.of(args[++i]);
                    case "--resume" -> resume = true;
                    case "--seed" -> seed = Long.parseLong(args[++i]);
                    default -> throw new IllegalArgumentException("unknown argument " + args[i] + "; usage: " + USAGE);
                }
            }
            return new Options(epochs, data, subset, compiled, out, resume, seed);
        }
    }

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);
        Files.createDirectories(o.out());

        FashionMnist trainSet = FashionMnist.train(o.data()), testSet = FashionMnist.test(o.data());
        Dataset<Example> train = o.subset() > 0 ? trainSet.slice(0, Math.min(o.subset(), trainSet.size())) : trainSet;
        System.out.printf(Locale.ROOT, "data: Fashion-MNIST from %s, %,d training and %,d test images%n",
                trainSet.source(), train.size(), testSet.size());
        System.out.println("backend: " + Kiln.backend().name() + ", " + (o.compiled() ? "compiled train step" : "eager loop"));

        Kiln.manualSeed(o.seed());
        var model = new MnistNet();
        var criterion = new CrossEntropyLoss();
        var optimizer = new Adam(model.parameters(), 1e-3);
        var loader = DataLoader.builder(train).batchSize(64).shuffle(true).seed(o.seed()).build();
        Path checkpoint = o.out().resolve("checkpoint.safetensors");
        if (o.resume() && Files.exists(checkpoint)) {
            var c = Checkpoint.load(checkpoint, model, optimizer);
            loader.setEpoch(c.epoch(), c.batch());
            System.out.printf("resumed from %s: epoch %d, batch %d, step %d%n", checkpoint, c.epoch() + 1, c.batch(), c.step());
        }

        TrainStep step = null;
        for (int epoch = loader.epoch(); epoch < o.epochs(); epoch++) {
            String title = "epoch " + (epoch + 1);
            try (var progress = Progress.onStandardOutput(title, loader.batchCount())) {
                model.train();
                if (o.compiled()) step = trainEpochCompiled(model, criterion, optimizer, step, loader, progress);
                else trainEpoch(model, criterion, optimizer, loader, progress);
            }
            long t0 = System.nanoTime();
            long[] predictions = predict(model, testSet);
            System.out.printf(Locale.ROOT, "%s: test accuracy %.4f (%.1f s)%n", title, accuracy(predictions, testSet),
                    (System.nanoTime() - t0) / 1e9);
            Checkpoint.save(checkpoint, model, optimizer, epoch + 1, 0);
        }

        Path weights = o.out().resolve("mnist.safetensors");
        Kiln.save(model.stateDict(), weights);
        System.out.println("saved the model to " + weights);
        var reloaded = new MnistNet();
        reloaded.loadStateDict(Kiln.load(weights));
        long[] before = predict(model, testSet), after = predict(reloaded, testSet);
        System.out.printf(Locale.ROOT, "reloaded model: test accuracy %.4f, same predictions: %b%n",
                accuracy(after, testSet), Arrays.equals(before, after));
    }

    /// One epoch of the eager loop, as in PyTorch.
    static void trainEpoch(Module model, CrossEntropyLoss criterion, Optimizer optimizer, DataLoader<?> loader, Progress progress) {
        for (Batch batch : loader) {
            optimizer.zeroGrad();
            Tensor output = model.forward(batch.input());
            Tensor loss = criterion.forward(output, batch.target());
            loss.backward();
            optimizer.step();
            progress.step(batch.size(), loss.item());
        }
    }

    /// One epoch through one compiled graph per step: forward, loss, backward and update.
    /// Compiled on the first batch (the batch size is symbolic, so the last, smaller batch runs too).
    static TrainStep trainEpochCompiled(Module model, CrossEntropyLoss criterion, Optimizer optimizer, TrainStep step,
                                        DataLoader<?> loader, Progress progress) {
        for (Batch batch : loader) {
            if (step == null) step = Kiln.compileTrainStep(model, criterion, optimizer, batch.input(), batch.target());
            Tensor loss = step.step(batch.input(), batch.target());
            progress.step(batch.size(), loss.item());
        }
        return step;
    }

    /// The predicted class of every test image, in batches of 1,000 without recording gradients.
    static long[] predict(Module model, Dataset<Example> test) {
        model.eval();
        long[] out = new long[test.size()];
        int at = 0;
        try (var _ = Kiln.noGrad()) {
            for (Batch batch : new DataLoader<>(test, 1000, false)) {
                long[] p = model.forward(batch.input()).argmax(1).toLongArray();
                System.arraycopy(p, 0, out, at, p.length);
                at += p.length;
            }
        }
        return out;
    }

    /// The fraction of `predictions` equal to the targets of `test`.
    static double accuracy(long[] predictions, Dataset<Example> test) {
        int correct = 0;
        for (int i = 0; i < predictions.length; i++) if (predictions[i] == test.get(i).target().getLong(0)) correct++;
        return correct / (double) predictions.length;
    }
}
