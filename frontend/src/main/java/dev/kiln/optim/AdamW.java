package dev.kiln.optim;

import dev.kiln.Tensor;

import java.util.List;

/// Adam with decoupled weight decay, as PyTorch's `AdamW` (defaults lr 1e-3, betas 0.9, 0.999,
/// eps 1e-8, weight decay 0.01): each step first shrinks the parameter, `p = p * (1 - lr*wd)`,
/// then applies Adam's update (see `Adam`) with the plain gradient.
public class AdamW extends Adam {
    public AdamW(List<Tensor> params) { this(params, 1e-3); }

    public AdamW(List<Tensor> params, double lr) { this(params, lr, 0.9, 0.999, 1e-8, 0.01); }

    public AdamW(List<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params, lr, beta1, beta2, eps, weightDecay, true);
    }
}
