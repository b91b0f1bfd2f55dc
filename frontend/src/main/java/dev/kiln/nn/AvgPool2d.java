package dev.kiln.nn;

import dev.kiln.Tensor;

/// Average pooling over `kernelSize x kernelSize` windows with stride equal to the kernel
/// (PyTorch's default), no padding, floor mode.
public class AvgPool2d extends WindowPool2d {
    public AvgPool2d(int kernelSize) { this(kernelSize, kernelSize); }

    public AvgPool2d(int kernelSize, int stride) { super(kernelSize, stride); }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.avgPool2d(x, kernelSize);
        }
    }

    @Override protected String extraRepr() { return "kernel_size=" + kernelSize + ", stride=" + kernelSize + ", padding=0"; }
}
