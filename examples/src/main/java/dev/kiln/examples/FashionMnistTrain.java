package dev.kiln.examples;

import dev.kiln.Device;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.data.Batch;
import dev.kiln.data.DataLoader;
import dev.kiln.data.FashionMnist;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;

/// The training loop of the design page on Fashion-MNIST: eager steps, then the same loop as one
/// compiled train step. With the reference interpreter as backend this is slow (seconds per
/// batch); `args[0]` limits the number of batches (default 3), `args[1]` sets the batch size.
public class FashionMnistTrain {
    public static void main(String[] args) {
        int batches = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int batchSize = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        Kiln.manualSeed(0);
        var model = new Modules.MnistNet().to(Device.best());
        var criterion = new CrossEntropyLoss();
        var optimizer = new Adam(model.parameters(), 1e-3);
        try (var loader = new DataLoader<>(FashionMnist.train(), batchSize, true)) {
            int n = 0;
            for (Batch batch : loader) {
                if (n++ == batches) break;
                optimizer.zeroGrad();
                Tensor loss = criterion.forward(model.forward(batch.input()), batch.target());
                loss.backward();
                optimizer.step();
                System.out.printf("eager batch %d  loss %.4f%n", n, loss.item());
            }
        }
        try (var loader = new DataLoader<>(FashionMnist.train(), batchSize, true)) {
            TrainStep step = null;
            int n = 0;
            for (Batch batch : loader) {
                if (n++ == batches) break;
                Tensor x = batch.input(), y = batch.target();
                if (step == null) step = Kiln.compileTrainStep(model, criterion, optimizer, x, y);
                System.out.printf("compiled batch %d  loss %.4f%n", n, step.step(x, y).item());
            }
        }
    }
}
