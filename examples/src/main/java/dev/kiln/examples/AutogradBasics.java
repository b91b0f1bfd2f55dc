package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;

/// 2. Eager autograd: gradients accumulate in `grad` until cleared; `detach` and `noGrad` stop them.
public class AutogradBasics {
    public static void main(String[] args) {
        Tensor x = Tensor.scalar(2f).requiresGrad(true);
        Tensor y = x.pow(2).add(x.mul(3));                   // y = x^2 + 3x
        y.backward();
        System.out.println("dy/dx at x=2: " + x.grad().item()); // 2x + 3 = 7

        x.mul(10).backward();                                 // gradients accumulate
        System.out.println("after a second backward: " + x.grad().item()); // 7 + 10 = 17
        x.zeroGrad();
        System.out.println("after zeroGrad: " + x.grad());

        Tensor z = x.mul(x).detach().mul(x);                  // the detached x^2 is a constant
        z.backward();
        System.out.println("d(detach(x^2) * x)/dx: " + x.grad().item()); // x^2 = 4

        try (var _ = Kiln.noGrad()) {
            Tensor w = x.mul(5);
            System.out.println("under noGrad, requiresGrad = " + w.requiresGrad());
        }
    }
}
