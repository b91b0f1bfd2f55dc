package dev.kiln.nn;

import dev.kiln.Tensor;

/// Max pooling over `kernelSize x kernelSize` windows with stride equal to the kernel (PyTorch's
/// default), floor mode.
public class MaxPool2d extends WindowPool2d {
    public MaxPool2d(int kernelSize) { this(kernelSize, kernelSize); }

    public MaxPool2d(int kernelSize, int stride) { super(kernelSize, stride); }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.maxPool2d(x, kernelSize);
        }
    }

    @Override protected String extraRepr() {
        return "kernel_size=" + kernelSize + ", stride=" + kernelSize + ", padding=0, dilation=1, ceil_mode=False";
    }
}
