package dev.kiln.examples.mnist;

import dev.kiln.Tensor;
import dev.kiln.nn.Conv2d;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;

import static dev.kiln.nn.Functional.maxPool2d;

/// The seed's CNN for 28x28 grayscale images in 10 classes: conv 1->32 (3x3, padding 1), relu,
/// 2x2 max-pool, conv 32->64 (3x3, padding 1), relu, 2x2 max-pool, flatten, linear 3136->10.
/// 50,186 parameters, named as PyTorch names them: `conv1.weight`, ..., `fc.bias`.
public class MnistNet extends Module {
    final Conv2d conv1 = register("conv1", new Conv2d(1, 32, 3, 1, 1));
    final Conv2d conv2 = register("conv2", new Conv2d(32, 64, 3, 1, 1));
    final Linear fc = register("fc", new Linear(64 * 7 * 7, 10));

    @Override public Tensor forward(Tensor x) {
        x = maxPool2d(conv1.forward(x).relu(), 2);   // [B, 32, 14, 14]
        x = maxPool2d(conv2.forward(x).relu(), 2);   // [B, 64, 7, 7]
        return fc.forward(x.flatten(1));             // [B, 10] logits
    }
}
