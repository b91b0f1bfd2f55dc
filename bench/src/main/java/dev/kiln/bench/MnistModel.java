package dev.kiln.bench;

import dev.kiln.Tensor;
import dev.kiln.nn.Conv2d;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MaxPool2d;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;

/// MNISTNet written with the user API, as in the design page: what the train-step benchmark
/// compiles through `Kiln.compileTrainStep` (trace, autodiff, passes, fusion, this backend).
public class MnistModel extends Module {
    final Sequential conv = register("conv", new Sequential(
            new Conv2d(1, 32, 3, 1, 1), new ReLU(), new MaxPool2d(2),
            new Conv2d(32, 64, 3, 1, 1), new ReLU(), new MaxPool2d(2)));
    final Linear fc = register("fc", new Linear(64 * 7 * 7, 10));

    @Override public Tensor forward(Tensor x) {
        x = conv.forward(x);
        return fc.forward(x.view(x.size(0), -1));
    }
}
