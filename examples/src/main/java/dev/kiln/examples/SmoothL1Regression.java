package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.optim.SGD;

/// 5. A loss written by the user from tensor ops trains like a built-in one: the same autodiff
/// differentiates it.
public class SmoothL1Regression {
    /// Smooth L1 (Huber) loss: quadratic below `beta`, linear above.
    static class SmoothL1 extends Module {
        final double beta;

        SmoothL1(double beta) { this.beta = beta; }

        @Override public Tensor forward(Tensor input, Tensor target) {
            Tensor diff = input.sub(target).abs();
            return Tensor.where(diff.lt(beta), diff.pow(2).mul(0.5 / beta), diff.sub(0.5 * beta)).mean();
        }
    }

    public static void main(String[] args) {
        Kiln.manualSeed(1);
        Tensor x = Tensor.randn(64, 3);
        Tensor y = x.matmul(Tensor.of(new float[][]{{2}, {-1}, {0.5f}})).add(1);   // y = 2a - b + c/2 + 1
        Linear model = new Linear(3, 1);
        SmoothL1 loss = new SmoothL1(1.0);
        SGD opt = new SGD(model.parameters(), 0.2);
        for (int step = 0; step <= 100; step++) {
            opt.zeroGrad();
            Tensor l = loss.forward(model.forward(x), y);
            l.backward();
            opt.step();
            if (step % 25 == 0) System.out.printf("step %3d  loss %.5f%n", step, l.item());
        }
        System.out.println("learned weight " + model.weight + ", bias " + model.bias);
    }
}
