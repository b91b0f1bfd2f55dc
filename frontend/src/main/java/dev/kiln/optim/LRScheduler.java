package dev.kiln.optim;

/// Changes an optimizer's learning rate once per epoch (or per step, as the caller counts), as
/// PyTorch's `torch.optim.lr_scheduler`: the constructor records the optimizer's learning rate
/// as the base rate (epoch 0), each `step()` moves to the next epoch and sets the optimizer's
/// learning rate to `lrAt(epoch)`. The rate is an input of compiled train steps, so the next
/// step, eager or compiled, uses it.
/// Invariant: `getLastLr()` is the optimizer's learning rate as this scheduler last set it.
public abstract class LRScheduler {
    protected final Optimizer optimizer;
    /// The optimizer's learning rate when the scheduler was made.
    protected final double baseLr;
    private int lastEpoch;
    private double lastLr;

    protected LRScheduler(Optimizer optimizer) {
        this.optimizer = optimizer;
        this.baseLr = optimizer.getLr();
        this.lastLr = baseLr;
    }

    /// The learning rate for `epoch` (0 gives the base rate).
    protected abstract double lrAt(int epoch);

    /// Moves to the next epoch and sets the optimizer's learning rate for it.
    public void step() {
        lastEpoch++;
        lastLr = lrAt(lastEpoch);
        optimizer.setLr(lastLr);
    }

    /// The learning rate last set (PyTorch's `get_last_lr()[0]`: one parameter group).
    public double getLastLr() { return lastLr; }

    /// The number of `step()` calls so far (PyTorch's `last_epoch`).
    public int lastEpoch() { return lastEpoch; }
}
