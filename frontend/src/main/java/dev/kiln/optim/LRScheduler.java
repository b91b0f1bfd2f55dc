package dev.kiln.optim;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/// Changes an optimizer's learning rate once per epoch (or per step, as the caller counts), as
/// PyTorch's `torch.optim.lr_scheduler`: the constructor records the optimizer's learning rate
/// as the base rate (epoch 0), each `step()` moves to the next epoch and sets the optimizer's
/// learning rate to `lrAt(epoch)`. The rate is an input of compiled train steps, so the next
/// step, eager or compiled, uses it.
/// Invariant: `getLastLr()` is `lrAt(lastEpoch())`, the optimizer's learning rate as this
/// scheduler last set it.
public abstract class LRScheduler {
    protected final Optimizer optimizer;
    private double baseLr;
    private int lastEpoch;
    private double lastLr;

    protected LRScheduler(Optimizer optimizer) {
        this.optimizer = optimizer;
        this.baseLr = optimizer.getLr();
        this.lastLr = baseLr;
    }

    /// The learning rate for `epoch` (0 gives the base rate).
    protected abstract double lrAt(int epoch);

    /// The optimizer's learning rate when the scheduler was made (PyTorch's `base_lrs[0]`).
    public double baseLr() { return baseLr; }

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

    /// The scheduler's position, PyTorch's `scheduler.state_dict()` made flat: `"last_epoch"`
    /// (an i64 scalar) and `"base_lr"` (f64). Its settings (step size, gamma, ...) are the
    /// constructor's, as in PyTorch's use: build the scheduler as before, then load.
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("last_epoch", Tensor.scalar((long) lastEpoch));
        out.put("base_lr", Tensor.scalar(baseLr));
        return out;
    }

    /// Restores a position from `stateDict()`, so that the following `step()`s set the rates the
    /// saved scheduler would have set. The optimizer's current rate is left alone (its own state
    /// dict holds it). Strict: exactly the two keys.
    public void loadStateDict(Map<String, Tensor> state) {
        String who = getClass().getSimpleName() + ".loadStateDict";
        if (!state.keySet().equals(Set.of("last_epoch", "base_lr")))
            throw new KilnException(who + ": expected the keys [last_epoch, base_lr], got " + state.keySet());
        Tensor epoch = state.get("last_epoch"), base = state.get("base_lr");
        if (epoch.numel() != 1 || epoch.itemDouble() < 0 || epoch.itemDouble() != Math.rint(epoch.itemDouble()))
            throw new KilnException(who + ": \"last_epoch\" must be one whole number of at least 0, got " + epoch);
        if (base.numel() != 1 || !(base.itemDouble() >= 0))
            throw new KilnException(who + ": \"base_lr\" must be one number of at least 0, got " + base);
        lastEpoch = (int) epoch.itemLong();
        baseLr = base.itemDouble();
        lastLr = lrAt(lastEpoch);
    }
}
