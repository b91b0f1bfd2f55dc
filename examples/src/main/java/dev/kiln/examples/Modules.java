package dev.kiln.examples;

import dev.kiln.Device;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.nn.Conv2d;
import dev.kiln.nn.Dropout;
import dev.kiln.nn.Flatten;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MaxPool2d;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;
import dev.kiln.nn.Softmax;

/// 4. Modules: submodules registered by name, parameters, state dict, train/eval, printing.
public class Modules {
    /// The network of the design page: two conv blocks and a linear classifier.
    public static class MnistNet extends Module {
        final Sequential conv = register("conv", new Sequential(
                new Conv2d(1, 32, 3, 1, 1), new ReLU(), new MaxPool2d(2),
                new Conv2d(32, 64, 3, 1, 1), new ReLU(), new MaxPool2d(2)));
        final Linear fc = register("fc", new Linear(64 * 7 * 7, 10));

        @Override public Tensor forward(Tensor x) {
            x = conv.forward(x);
            return fc.forward(x.view(x.size(0), -1));
        }
    }

    public static void main(String[] args) {
        Kiln.manualSeed(0);
        MnistNet model = new MnistNet().to(Device.best());
        System.out.println(model);
        System.out.println("parameters: " + model.parameters().size() + " tensors, " + model.numParameters() + " numbers");
        System.out.println("state dict keys: " + model.stateDict().keySet());
        Tensor logits = model.forward(Tensor.rand(2, 1, 28, 28));
        System.out.println("logits shape " + java.util.Arrays.toString(logits.shape()));

        Module head = new Sequential(new Flatten(), new Dropout(0.5), new Linear(16, 4), new Softmax(1));
        System.out.println(head);
        Tensor x = Tensor.ones(3, 4, 4);
        head.eval();                                           // dropout off: deterministic
        Tensor p = head.forward(x);
        System.out.println("eval-mode probabilities sum to " + p.sum(1));
        head.train();
        System.out.println("training mode: " + head.isTraining());
    }
}
