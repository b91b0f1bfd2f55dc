package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;

/// 1. Creating tensors, their dtype and device, and printing them.
public class TensorBasics {
    public static void main(String[] args) {
        Kiln.manualSeed(0);
        Tensor r = Tensor.rand(2, 3);                        // uniform in [0, 1), f32
        System.out.println("rand(2, 3) = " + r);
        System.out.println("dtype " + r.dtype() + ", device " + r.device() + ", shape " + java.util.Arrays.toString(r.shape()));
        System.out.println("zeros(2, 2) = " + Tensor.zeros(2, 2));
        System.out.println("ones(3) = " + Tensor.ones(3));
        System.out.println("randn(2) has " + Tensor.randn(2).numel() + " elements");
        System.out.println("arange(5) = " + Tensor.arange(5));
        System.out.println("of(float[][]) = " + Tensor.of(new float[][]{{1, 2}, {3, 4}}));
        System.out.println("of(long[]) = " + Tensor.of(new long[]{3, 1, 4}));
        System.out.println("of(double[][][]) shape " + java.util.Arrays.toString(Tensor.of(new double[][][]{{{1}, {2}}}).shape()));
        System.out.println("of(boolean[]) = " + Tensor.of(new boolean[]{true, false}));
        System.out.println("scalar(2f) = " + Tensor.scalar(2f));
        System.out.println("arange(0, 1, 0.25) = " + Tensor.arange(0.0, 1.0, 0.25));
    }
}
