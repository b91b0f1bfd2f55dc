package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.runtime.DType;

import java.util.Arrays;

/// Layer normalization over the last dimensions (`normalizedShape`), PyTorch's `LayerNorm`:
/// `(x - mean) / sqrt(var + eps) * weight + bias`, statistics per sample and biased; defaults eps
/// 1e-5 and `elementwiseAffine` (weight ones and bias zeros of `normalizedShape`, trained; `bias`
/// false leaves the bias out). The same in training and evaluation.
public class LayerNorm extends Module {
    private final int[] normalizedShape;
    public final double eps;
    public final boolean elementwiseAffine;
    public final Tensor weight, bias;

    public LayerNorm(int... normalizedShape) { this(normalizedShape, 1e-5, true); }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine) {
        this(normalizedShape, eps, elementwiseAffine, true);
    }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias) {
        if (normalizedShape.length == 0 || Arrays.stream(normalizedShape).anyMatch(d -> d < 1))
            throw new KilnException("LayerNorm: normalizedShape must be one or more positive sizes, got " + Arrays.toString(normalizedShape));
        if (!(eps >= 0)) throw new KilnException("LayerNorm: eps must be non-negative, got " + eps);
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        this.elementwiseAffine = elementwiseAffine;
        this.weight = elementwiseAffine ? registerParameter("weight", Tensor.ones(DType.F32, normalizedShape)) : null;
        this.bias = elementwiseAffine && bias ? registerParameter("bias", Tensor.zeros(DType.F32, normalizedShape)) : null;
    }

    public int[] normalizedShape() { return normalizedShape.clone(); }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.layerNorm(x, normalizedShape, weight, bias, eps);
        }
    }

    @Override protected String extraRepr() {
        String shape = Arrays.toString(normalizedShape).replace("[", "(").replace("]", normalizedShape.length == 1 ? ",)" : ")");
        return shape + ", eps=" + eps + ", elementwise_affine=" + (elementwiseAffine ? "True" : "False");
    }
}
