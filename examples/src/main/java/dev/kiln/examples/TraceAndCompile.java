package dev.kiln.examples;

import dev.kiln.CompiledModel;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.optim.Adam;

import java.util.Arrays;

/// 8. Tracing a module into IR (with the source lines of this file), compiling it, and compiling
/// a whole training step (forward, loss, backward, Adam) into one graph.
public class TraceAndCompile {
    static class Mlp extends Module {
        final Linear fc1 = register("fc1", new Linear(4, 16));
        final Linear fc2 = register("fc2", new Linear(16, 3));

        @Override public Tensor forward(Tensor x) {
            Tensor h = fc1.forward(x).relu();
            return fc2.forward(h);
        }
    }

    public static void main(String[] args) {
        Kiln.manualSeed(0);
        Mlp model = new Mlp();
        Tensor example = Tensor.rand(8, 4);

        Graph g = Kiln.trace(model, example);
        System.out.println(Printer.print(g, true));

        CompiledModel compiled = Kiln.compile(model, example);
        Tensor x = Tensor.rand(5, 4);                          // another batch size: same compiled code
        System.out.println("compiled == eager: " + Arrays.equals(compiled.forward(x).toFloatArray(), model.forward(x).toFloatArray()));

        CrossEntropyLoss criterion = new CrossEntropyLoss();
        Adam optimizer = new Adam(model.parameters(), 0.05);
        Tensor target = Tensor.of(new long[]{0, 1, 2, 0, 1, 2, 0, 1});
        TrainStep step = Kiln.compileTrainStep(model, criterion, optimizer, example, target);
        System.out.println("train-step graph: " + step.graph().body().size() + " ops, results "
                + step.graph().resultTypes().size() + " (loss, 4 parameters, 8 Adam moments)");
        long before = Kiln.compileCount();
        for (int i = 0; i < 50; i++) {
            Tensor loss = step.step(example, target);
            if (i % 10 == 0 || i == 49) System.out.printf("step %2d  loss %.4f%n", i, loss.item());
        }
        System.out.println("graphs compiled during the loop: " + (Kiln.compileCount() - before));
    }
}
