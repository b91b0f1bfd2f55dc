package dev.kiln.cli;

import dev.kiln.Device;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.data.Batch;
import dev.kiln.data.DataLoader;
import dev.kiln.data.Dataset;
import dev.kiln.data.Example;
import dev.kiln.data.FashionMnist;
import dev.kiln.data.Progress;
import dev.kiln.nn.Conv2d;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.optim.Adam;

import dev.kiln.runtime.Npy;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import static dev.kiln.nn.Functional.maxPool2d;

/// `kiln demo`: the main job end to end. Trains the seed's MNISTNet on Fashion-MNIST (Adam, lr
/// 1e-3, cross-entropy, batches of 64), prints the test accuracy after every epoch, writes the
/// trained weights as safetensors and the model compiled to a standalone jar (`Kiln.export`).
/// The data is found as `FashionMnist.train()` finds it; without it, the embedded subset is used,
/// and the output says so and how to get the full set. Runs on the default backend (the JVM's,
/// unless `-Dkiln.backend` names another). Invariant: every run with the same options and data prints
/// the same accuracies (seeded initialization and shuffling).
@Command(name = "demo", sortOptions = false,
        description = {"Train MNISTNet on Fashion-MNIST, report the test accuracy per epoch, save the model and compile it to a jar.",
                "Uses the full dataset when installed (~/.kiln/data/fashion-mnist, or the Debian package "
                        + "dataset-fashion-mnist), else a small embedded subset."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--epochs", paramLabel = "N", defaultValue = "2", description = "Epochs to train (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--data", paramLabel = "DIR",
            description = "Directory with the four Fashion-MNIST files (default: ~/.kiln/data/fashion-mnist, "
                    + "then /usr/share/datasets/fashion-mnist, else the embedded subset).")
    Path data;

    @Option(names = "--subset", paramLabel = "N", description = "Train on the first N training images only.")
    Integer subset;

    @ArgGroup(exclusive = true) Mode mode;

    static final class Mode {
        @Option(names = "--compiled", description = "Run each step as one compiled graph: forward, loss, backward, Adam (the default).")
        boolean compiled;
        @Option(names = "--eager", description = "Run the eager loop: zeroGrad, forward, loss, backward, step.")
        boolean eager;
    }

    @Option(names = "--device", paramLabel = "cpu|cuda|best", defaultValue = "cpu",
            description = "Where to train: cpu (default), cuda (the GPU; fails saying why when there is none) or best (cuda when usable).")
    String device;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "kiln-demo",
            description = "Where to write the trained model: mnist.safetensors, mnist.jar (default: ${DEFAULT-VALUE}).")
    Path out;

    @Spec CommandSpec spec;

    /// The seed's CNN: conv 1->32 3x3 pad 1, relu, max-pool 2, conv 32->64 3x3 pad 1, relu,
    /// max-pool 2, flatten, linear 3136->10 (as `examples/mnist/MnistNet`).
    static final class MnistNet extends Module {
        final Conv2d conv1 = register("conv1", new Conv2d(1, 32, 3, 1, 1));
        final Conv2d conv2 = register("conv2", new Conv2d(32, 64, 3, 1, 1));
        final Linear fc = register("fc", new Linear(64 * 7 * 7, 10));

        @Override public Tensor forward(Tensor x) {
            x = maxPool2d(conv1.forward(x).relu(), 2);
            x = maxPool2d(conv2.forward(x).relu(), 2);
            return fc.forward(x.flatten(1));
        }
    }

    @Override public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        if (epochs < 1) throw new IllegalArgumentException("--epochs must be at least 1, got " + epochs);
        if (subset != null && subset < 1) throw new IllegalArgumentException("--subset must be at least 1, got " + subset);
        boolean compiled = mode == null || !mode.eager;
        Device where = switch (device) {
            case "cpu" -> Device.cpu();
            case "cuda" -> {
                Backends.check(spec.commandLine(), "cuda");
                yield Device.cuda();
            }
            case "best" -> Device.best();
            default -> throw new ParameterException(spec.commandLine(), "--device must be cpu, cuda or best, got '" + device + "'");
        };

        FashionMnist trainSet = FashionMnist.train(data), testSet = FashionMnist.test(data);
        Dataset<Example> train = subset == null ? trainSet : trainSet.slice(0, Math.min(subset, trainSet.size()));
        o.printf(Locale.ROOT, "kiln demo: MNISTNet on Fashion-MNIST, %d epoch%s, %s, %s backend%s%n", epochs, epochs == 1 ? "" : "s",
                compiled ? "compiled train step" : "eager loop",
                where.kind() == Device.Kind.CUDA ? "cuda" : Kiln.backend().name(),
                where.kind() == Device.Kind.CUDA ? " (" + dev.kiln.codegen.cuda.CudaBackend.deviceName() + ")" : kernelNote());
        boolean embedded = trainSet.source().equals("embedded subset");
        o.printf(Locale.ROOT, "data: %s, %,d training and %,d test images%n",
                embedded ? "the embedded subset" : trainSet.source(), train.size(), testSet.size());
        if (embedded)
            o.println("  (the full set, 60,000 + 10,000 images, was not found: apt-get install dataset-fashion-mnist, "
                    + "or put its four files in ~/.kiln/data/fashion-mnist, or pass --data DIR)");
        o.flush();

        Kiln.manualSeed(0);
        var model = new MnistNet().<MnistNet>to(where);
        var criterion = new CrossEntropyLoss();
        var optimizer = new Adam(model.parameters(), 1e-3);
        var loader = new DataLoader<>(train, 64, true);
        boolean terminal = Progress.isTerminal();
        TrainStep step = null;
        for (int epoch = 1; epoch <= epochs; epoch++) {
            model.train();
            try (var progress = new Progress("epoch " + epoch, loader.batchCount(), o, terminal)) {
                for (Batch batch : loader) {
                    Tensor loss, input = batch.input().to(where), target = batch.target().to(where);
                    if (compiled) {
                        if (step == null) step = Kiln.compileTrainStep(model, criterion, optimizer, input, target);
                        loss = step.step(input, target);
                    } else {
                        optimizer.zeroGrad();
                        loss = criterion.forward(model.forward(input), target);
                        loss.backward();
                        optimizer.step();
                    }
                    progress.step(batch.size(), loss.item());
                }
            }
            o.printf(Locale.ROOT, "epoch %d: test accuracy %.4f%n", epoch, accuracy(model, testSet, where));
            o.flush();
        }
        model.to(Device.cpu()); // the jar is for the JVM: trace and export on the CPU

        Files.createDirectories(out);
        Path weights = out.resolve("mnist.safetensors");
        Kiln.save(model.stateDict(), weights);
        o.printf(Locale.ROOT, "model: %s (%,d parameters, safetensors; load with Kiln.load)%n", weights, model.numParameters());
        o.println(export(model, testSet, out));
        o.flush();
        return 0;
    }

    /// " (vector kernels)", or a note that the JVM backend runs its portable, slower kernels
    /// because this JVM lacks the incubator module (the `kiln` launcher adds it for this command).
    private static String kernelNote() {
        if (!Kiln.backend().name().equals("jvm")) return "";
        return dev.kiln.codegen.jvm.rt.Gemm.kernelName().equals("vector") ? " (vector kernels)"
                : " (portable kernels; run java with --add-modules jdk.incubator.vector for the faster vector kernels)";
    }

    /// Test accuracy in batches of 1,000, without recording gradients.
    static double accuracy(Module model, Dataset<Example> test, Device device) {
        model.eval();
        long correct = 0;
        try (var _ = Kiln.noGrad()) {
            for (Batch batch : new DataLoader<>(test, 1000, false)) {
                long[] predicted = model.forward(batch.input().to(device)).argmax(1).toLongArray(), target = batch.target().toLongArray();
                for (int i = 0; i < predicted.length; i++) if (predicted[i] == target[i]) correct++;
            }
        }
        return correct / (double) test.size();
    }

    /// Compiles the trained model to a standalone jar with `Kiln.export`, and writes the first ten
    /// test images beside it so that the jar can be tried at once; says how.
    private static String export(Module model, Dataset<Example> test, Path dir) {
        List<Example> first = new ArrayList<>();
        for (int i = 0; i < Math.min(10, test.size()); i++) first.add(test.get(i));
        Tensor images = Batch.stack(first).input();
        Path jar = dir.resolve("mnist.jar"), sample = dir.resolve("test-images.npy");
        var exported = Kiln.export(model, images, jar);
        Npy.write(sample, images.toNdArray());
        Path ir = dir.resolve("ir");
        Kiln.saveTraced(model, ir, images);
        Path kir = ir.resolve("model.kir"), html = dir.resolve("mnist.html");
        String weights = String.join(",", model.stateDict().keySet());
        return String.format(Locale.ROOT, "jar: %s (%,d bytes, standalone: the model, its weights and Kiln's runtime)%n"
                + "  try it: java -jar %s --input %s --output logits.npy%n"
                + "ir: %s (the traced graph; its weights beside it)%n"
                + "  draw it, forward and backward: ./kiln dump %s --grad %s -o %s",
                exported.jar(), exported.bytes(), jar, sample, kir, kir, weights, html);
    }
}
