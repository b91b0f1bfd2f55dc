package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.codegen.jvm.jar.JarExporter;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.optim.Adam;
import dev.kiln.runtime.Npy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/// 9. A model as a standalone jar. `Kiln.export` writes one jar (the generated classes, the
/// weights and Kiln's runtime) that runs with `java -jar` on a bare JRE and is a typed library
/// for Java code; `Kiln.exportTrainStep` writes one that continues training; `Kiln.saveTraced`
/// saves the graph and weights for the `kiln` command line (`compile`, `run`, `bench`, `dump`).
/// Writes into the directory given (default `export`).
public class ExportJar {
    static class Classifier extends Module {
        final Linear fc1 = register("fc1", new Linear(784, 128));
        final Linear fc2 = register("fc2", new Linear(128, 10));

        @Override public Tensor forward(Tensor x) { return fc2.forward(fc1.forward(x).relu()); }
    }

    public static void main(String[] args) throws IOException {
        Path out = Files.createDirectories(Path.of(args.length > 0 ? args[0] : "export"));
        Kiln.manualSeed(0);
        Classifier model = new Classifier();
        Tensor x = Tensor.rand(16, 784), y = Tensor.randint(0, 10, 16);
        TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), new Adam(model.parameters(), 1e-3), x, y);
        for (int i = 0; i < 5; i++) step.step(x, y);

        JarExporter.Exported jar = Kiln.export(model, x, out.resolve("classifier.jar"));
        System.out.println("wrote " + jar.jar() + " (" + jar.bytes() + " bytes), entry class " + jar.entryClass());
        JarExporter.Exported tune = Kiln.exportTrainStep(step, out.resolve("finetune.jar"));
        System.out.println("wrote " + tune.jar() + " (" + tune.bytes() + " bytes), continuing from step 5");
        Kiln.saveTraced(model, out, x);
        System.out.println("wrote " + out.resolve("model.kir") + " and " + out.resolve("weights.safetensors"));
        Npy.write(out.resolve("x.npy"), x.toNdArray());
        Npy.write(out.resolve("y.npy"), y.toNdArray());
        System.out.println("wrote " + out.resolve("x.npy") + " (16 inputs) and " + out.resolve("y.npy") + " (their classes)");
        System.out.println("class of the first input: " + model.forward(x).argmax(1).toLongArray()[0]);
    }
}
