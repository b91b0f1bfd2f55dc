package dev.kiln.optim;

import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.runtime.DType;

import java.util.List;

/// Adam with PyTorch's defaults (betas 0.9, 0.999; eps 1e-8; no weight decay) and update rule:
/// `g = g + wd*p` (L2 weight decay), `m = b1*m + (1-b1)*g`, `v = b2*v + (1-b2)*g^2`,
/// `p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
/// The bias corrections and the step size are computed from the step number and the learning
/// rate in f64 inside the graph (both are inputs, so one compiled graph serves every step and
/// every learning rate) and rounded once, as PyTorch rounds its Python-float scalars.
public class Adam extends Optimizer {
    public final double beta1, beta2, eps, weightDecay;
    /// AdamW's decoupled weight decay (`p = p * (1 - lr*wd)` before the update) instead of L2.
    private final boolean decoupled;

    public Adam(List<Tensor> params) { this(params, 1e-3); }

    public Adam(List<Tensor> params, double lr) { this(params, lr, 0.9, 0.999, 1e-8, 0); }

    public Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(params, lr, beta1, beta2, eps, weightDecay, false);
    }

    Adam(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
        super(params, lr);
        String name = getClass().getSimpleName();
        if (!(eps >= 0) || !(weightDecay >= 0))
            throw new KilnException(name + ": eps and weight decay must be non-negative, got " + eps + ", " + weightDecay);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
            throw new KilnException(name + ": betas must be in [0, 1), got " + beta1 + ", " + beta2);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
    }

    @Override protected Tensor update(int i, Tensor p, Tensor g, Tensor step, Slots slots) {
        Tensor lr = lrTensor();
        if (weightDecay != 0 && decoupled) p = p.mul(lr.mul(weightDecay).rsub(1).to(p.dtype()));
        else if (weightDecay != 0) g = g.add(p.mul(weightDecay));
        Tensor m = slots.get(i, "exp_avg").mul(beta1).add(g.mul(1 - beta1));
        Tensor v = slots.get(i, "exp_avg_sq").mul(beta2).add(g.mul(g).mul(1 - beta2));
        slots.set(i, "exp_avg", m);
        slots.set(i, "exp_avg_sq", v);
        Tensor t = step.to(DType.F64);
        Tensor bc1 = t.mul(Math.log(beta1)).exp().rsub(1), bc2 = t.mul(Math.log(beta2)).exp().rsub(1);
        Tensor stepSize = lr.div(bc1).to(p.dtype()), bc2Sqrt = bc2.sqrt().to(p.dtype());
        Tensor denom = v.sqrt().div(bc2Sqrt).add(eps);
        return p.sub(m.div(denom).mul(stepSize));
    }
}
