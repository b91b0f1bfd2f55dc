package dev.kiln.nn;

import dev.kiln.KilnException;

/// What `MaxPool2d` and `AvgPool2d` share: a square window whose stride is the window itself
/// (PyTorch's default stride), the only stride the pooling functions support.
abstract class WindowPool2d extends Module {
    public final int kernelSize;

    WindowPool2d(int kernelSize, int stride) {
        if (stride != kernelSize)
            throw new KilnException(getClass().getSimpleName() + ": only stride == kernel_size is supported, got kernel_size "
                    + kernelSize + " and stride " + stride);
        this.kernelSize = kernelSize;
    }
}
