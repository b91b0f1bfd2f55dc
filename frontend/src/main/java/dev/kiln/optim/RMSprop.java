package dev.kiln.optim;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

import java.util.List;

/// RMSprop with PyTorch's defaults (lr 0.01, alpha 0.99, eps 1e-8, no weight decay, no momentum,
/// not centered) and update rule: `g = g + wd*p`, `sq = alpha*sq + (1-alpha)*g^2`; centered:
/// `ga = alpha*ga + (1-alpha)*g`, `avg = sqrt(sq - ga^2) + eps`, else `avg = sqrt(sq) + eps`;
/// with momentum `buf = momentum*buf + g/avg`, `p = p - lr*buf`, else `p = p - lr*g/avg`.
/// State slots as PyTorch names them: `square_avg`, `grad_avg`, `momentum_buffer`.
public class RMSprop extends Optimizer {
    public final double alpha, eps, weightDecay, momentum;
    public final boolean centered;

    public RMSprop(List<Tensor> params) { this(params, 0.01); }

    public RMSprop(List<Tensor> params, double lr) { this(params, lr, 0.99, 1e-8, 0, 0, false); }

    public RMSprop(List<Tensor> params, double lr, double alpha, double eps, double weightDecay, double momentum, boolean centered) {
        super(params, lr);
        if (!(alpha >= 0) || !(eps >= 0) || !(weightDecay >= 0) || !(momentum >= 0))
            throw new KilnException("RMSprop: alpha, eps, weight decay and momentum must be non-negative, got "
                    + alpha + ", " + eps + ", " + weightDecay + ", " + momentum);
        this.alpha = alpha;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.momentum = momentum;
        this.centered = centered;
    }

    @Override protected Tensor update(int i, Tensor p, Tensor g, Tensor step, Slots slots) {
        if (weightDecay != 0) g = g.add(p.mul(weightDecay));
        Tensor sq = slots.get(i, "square_avg").mul(alpha).add(g.mul(g).mul(1 - alpha));
        slots.set(i, "square_avg", sq);
        Tensor avg;
        if (centered) {
            Tensor ga = slots.get(i, "grad_avg").mul(alpha).add(g.mul(1 - alpha));
            slots.set(i, "grad_avg", ga);
            avg = sq.sub(ga.mul(ga)).sqrt().add(eps);
        } else avg = sq.sqrt().add(eps);
        Tensor d = g.div(avg);
        if (momentum != 0) {
            d = slots.get(i, "momentum_buffer").mul(momentum).add(d);
            slots.set(i, "momentum_buffer", d);
        }
        return p.sub(d.mul(lr(p.dtype())));
    }
}
