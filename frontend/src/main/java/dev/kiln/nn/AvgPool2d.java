package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// Average pooling over `kernelSize x kernelSize` windows with stride equal to the kernel
/// (PyTorch's default), no padding, floor mode.
public class AvgPool2d extends Module {
    public final int kernelSize;

    public AvgPool2d(int kernelSize) { this(kernelSize, kernelSize); }

    public AvgPool2d(int kernelSize, int stride) {
        if (stride != kernelSize)
            throw new KilnException("AvgPool2d: only stride == kernel_size is supported, got kernel_size " + kernelSize
                    + " and stride " + stride);
        this.kernelSize = kernelSize;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.avgPool2d(x, kernelSize);
        }
    }

    @Override protected String extraRepr() { return "kernel_size=" + kernelSize + ", stride=" + kernelSize + ", padding=0"; }
}
