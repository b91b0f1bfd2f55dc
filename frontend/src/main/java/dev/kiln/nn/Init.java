package dev.kiln.nn;

import dev.kiln.Tensor;

/// Parameter initialization as PyTorch's layers do it by default, drawn from the generator that
/// `Kiln.manualSeed` seeds.
public final class Init {
    private Init() {}

    /// Kaiming-uniform with `a = sqrt(5)` (PyTorch's default for Linear and Conv2d weights): the
    /// gain `sqrt(2 / (1 + a^2)) = sqrt(1/3)` gives the bound `sqrt(3) * gain / sqrt(fanIn) = 1 / sqrt(fanIn)`.
    public static Tensor kaimingUniform(int fanIn, int... shape) {
        double gain = Math.sqrt(2.0 / (1 + 5.0));
        double bound = Math.sqrt(3.0) * gain / Math.sqrt(fanIn);
        return Tensor.uniform(-bound, bound, shape);
    }

    /// `U(-1/sqrt(fanIn), 1/sqrt(fanIn))`, PyTorch's default for biases.
    public static Tensor biasUniform(int fanIn, int... shape) {
        double bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
        return Tensor.uniform(-bound, bound, shape);
    }
}
