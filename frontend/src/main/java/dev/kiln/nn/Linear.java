package dev.kiln.nn;

import dev.kiln.Tensor;

/// `y = x W^T + b` over the last dimension; `weight [out, in]`, `bias [out]`, initialized as PyTorch does.
public class Linear extends Module {
    public final int inFeatures, outFeatures;
    public final Tensor weight, bias;

    public Linear(int inFeatures, int outFeatures) { this(inFeatures, outFeatures, true); }

    public Linear(int inFeatures, int outFeatures, boolean bias) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = registerParameter("weight", Init.kaimingUniform(inFeatures, outFeatures, inFeatures));
        this.bias = bias ? registerParameter("bias", Init.biasUniform(inFeatures, outFeatures)) : null;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.linear(x, weight, bias);
        }
    }

    @Override protected String extraRepr() {
        return "in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias != null ? "True" : "False");
    }
}
