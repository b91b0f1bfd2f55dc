package dev.kiln.optim;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

import java.util.List;

/// Stochastic gradient descent with PyTorch's rule: `d = g + wd*p`; with momentum
/// `buf = momentum*buf + d` (buf starts at zero, which equals PyTorch's first step `buf = d`),
/// `d = buf` (or `d + momentum*buf` for Nesterov); `p = p - lr*d`.
public class SGD extends Optimizer {
    public final double momentum, weightDecay;
    public final boolean nesterov;

    public SGD(List<Tensor> params, double lr) { this(params, lr, 0, 0, false); }

    public SGD(List<Tensor> params, double lr, double momentum) { this(params, lr, momentum, 0, false); }

    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay) { this(params, lr, momentum, weightDecay, false); }

    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        super(params, lr);
        if (!(momentum >= 0) || !(weightDecay >= 0))
            throw new KilnException("SGD: momentum and weight decay must be non-negative, got " + momentum + ", " + weightDecay);
        if (nesterov && momentum == 0) throw new KilnException("SGD: Nesterov momentum needs a positive momentum");
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    @Override protected Tensor update(int i, Tensor p, Tensor g, Tensor step, Slots slots) {
        Tensor d = weightDecay != 0 ? g.add(p.mul(weightDecay)) : g;
        if (momentum != 0) {
            Tensor buf = slots.get(i, "momentum_buffer").mul(momentum).add(d);
            slots.set(i, "momentum_buffer", buf);
            d = nesterov ? d.add(buf.mul(momentum)) : buf;
        }
        return p.sub(d.mul(lr(p.dtype())));
    }
}
