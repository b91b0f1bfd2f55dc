package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// Average pooling of `[N, C, H, W]` to a fixed `outputH x outputW` (PyTorch's
/// `AdaptiveAvgPool2d`), for output sizes that divide the input's (`AdaptiveAvgPool2d(1)`, the
/// global average pool, always does); see `Functional.adaptiveAvgPool2d`.
public class AdaptiveAvgPool2d extends Module {
    public final int outputH, outputW;

    public AdaptiveAvgPool2d(int outputSize) { this(outputSize, outputSize); }

    public AdaptiveAvgPool2d(int outputH, int outputW) {
        if (outputH < 1 || outputW < 1)
            throw new KilnException("AdaptiveAvgPool2d: output size must be positive, got " + outputH + "x" + outputW);
        this.outputH = outputH;
        this.outputW = outputW;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.adaptiveAvgPool2d(x, outputH, outputW);
        }
    }

    @Override protected String extraRepr() {
        return "output_size=" + (outputH == outputW ? Integer.toString(outputH) : "(" + outputH + ", " + outputW + ")");
    }
}
