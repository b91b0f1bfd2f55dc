package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// `x * Phi(x)` elementwise, with `Phi` the standard normal distribution function (PyTorch's
/// `GELU`); `approximate` is `"none"` (the default: exact up to 1.2e-7 relative, see
/// `Functional.gelu`) or `"tanh"`.
public class GELU extends Module {
    public final String approximate;

    public GELU() { this("none"); }

    public GELU(String approximate) {
        if (!approximate.equals("none") && !approximate.equals("tanh"))
            throw new KilnException("GELU: approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
        this.approximate = approximate;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.gelu(x, approximate);
        }
    }

    @Override protected String extraRepr() { return "approximate='" + approximate + "'"; }
}
