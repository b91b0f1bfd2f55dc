package dev.kiln.optim;

import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Updates parameters from their gradients, as PyTorch's `torch.optim` optimizers. The update
/// rule is written once, in tensor ops (`update`): an eager `step()` records it for every
/// parameter and computes all the new values in one graph; a compiled train step traces the same
/// rule into its graph. State (momentum, Adam's moments) lives in named slots, `"<param index>.<slot>"`
/// as in PyTorch's optimizer state dict, created as zeros on first use.
///
/// The learning rate is a tensor too (`lrTensor()`, an f64 scalar), not a constant of the rule:
/// a compiled train step reads it as an input on every step, so `setLr` (what the schedulers in
/// this package call) takes effect there as it does in eager steps.
/// Invariant: `stepCount()` is the number of completed steps, eager or compiled.
public abstract class Optimizer {
    protected final List<Tensor> params;
    private final Map<String, Tensor> state = new LinkedHashMap<>();
    private final Tensor lr;
    private long steps;

    protected Optimizer(List<Tensor> params, double lr) {
        checkLr(lr);
        this.lr = Tensor.scalar(lr);
        if (params.isEmpty()) throw new KilnException(getClass().getSimpleName() + ": got an empty parameter list");
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor p : params) {
            if (!seen.add(p)) throw new KilnException(getClass().getSimpleName() + ": a parameter appears twice in the list");
            if (!p.isLeaf() || !p.requiresGrad())
                throw new KilnException(getClass().getSimpleName() + ": can only optimize leaf tensors that require grad");
        }
        this.params = List.copyOf(params);
    }

    public List<Tensor> params() { return params; }

    /// The current learning rate (PyTorch's `optimizer.param_groups[0]["lr"]`: Kiln's optimizers
    /// have one parameter group).
    public double getLr() { return lr.itemDouble(); }

    /// Sets the learning rate for the following steps, eager or compiled.
    public void setLr(double value) {
        checkLr(value);
        lr.copy_(Tensor.scalar(value));
    }

    /// The learning rate as the f64 scalar tensor that `update` reads (a compiled train step takes
    /// it as its input `optim.lr`). Change it with `setLr`.
    public Tensor lrTensor() { return lr; }

    private void checkLr(double value) {
        if (!(value >= 0) || Double.isInfinite(value))
            throw new KilnException(getClass().getSimpleName() + ": the learning rate must be a finite number >= 0, got " + value);
    }

    /// The learning rate converted to `dtype` (the parameter's), to scale an update with.
    protected Tensor lr(dev.kiln.runtime.DType dtype) { return lr.to(dtype); }

    public long stepCount() { return steps; }

    /// The state slots by name (read-only).
    public Map<String, Tensor> state() { return Collections.unmodifiableMap(state); }

    /// The state as an ordered state dict, PyTorch's `optimizer.state_dict()` made flat: every slot
    /// under `"<param index>.<slot>"` (the live tensors, as `Module.stateDict` gives them), the
    /// number of completed steps under `"step"` (an i64 scalar) and the learning rate under `"lr"`
    /// (an f64 scalar). What checkpoints save.
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(state);
        out.put("step", Tensor.scalar(steps));
        out.put("lr", Tensor.scalar(getLr()));
        return out;
    }

    /// Restores a state dict from `stateDict()` of an optimizer of the same kind over parameters of
    /// the same shapes, so that the next step computes what it would have computed there. Strict:
    /// `"step"` must be there, every other key must be `"<param index>.<slot>"` with the shape of
    /// that parameter, but `"lr"`, which is optional (without it the learning rate stays as it
    /// is); nothing changes unless all keys pass. Slots are overwritten in place (a
    /// compiled train step keeps reading the slot tensors it traced); existing slots the dict does
    /// not hold are reset to zeros, their value before any step.
    public void loadStateDict(Map<String, Tensor> stateDict) {
        String who = getClass().getSimpleName() + ".loadStateDict";
        Tensor step = stateDict.get("step");
        if (step == null) throw new KilnException(who + ": the state dict has no \"step\" entry");
        if (step.numel() != 1 || step.dtype().isFloat() && step.itemDouble() != Math.rint(step.itemDouble()) || step.itemDouble() < 0)
            throw new KilnException(who + ": \"step\" must be one whole number of at least 0, got " + step);
        Tensor lrEntry = stateDict.get("lr");
        if (lrEntry != null && (lrEntry.numel() != 1 || !(lrEntry.itemDouble() >= 0) || Double.isInfinite(lrEntry.itemDouble())))
            throw new KilnException(who + ": \"lr\" must be one finite number of at least 0, got " + lrEntry);
        Map<String, Integer> index = new LinkedHashMap<>();
        for (var e : stateDict.entrySet()) {
            String key = e.getKey();
            if (key.equals("step") || key.equals("lr")) continue;
            int i = slotIndex(key);
            if (i < 0 || i >= params.size())
                throw new KilnException(who + ": unexpected key \"" + key + "\" (expected \"step\", \"lr\" and \"<param index>.<slot>\" with an index below "
                        + params.size() + ")");
            if (!java.util.Arrays.equals(e.getValue().shape(), params.get(i).shape()))
                throw new KilnException(who + ": size mismatch for \"" + key + "\": the state dict has shape "
                        + e.getValue().type().shape() + ", parameter " + i + " has shape " + params.get(i).type().shape());
            index.put(key, i);
        }
        for (var e : state.entrySet()) if (!stateDict.containsKey(e.getKey())) e.getValue().copy_(Tensor.zerosLike(e.getValue()));
        index.forEach((key, i) -> {
            Tensor cur = state.get(key);
            if (cur == null) state.put(key, cur = Tensor.zerosLike(params.get(i)));
            cur.copy_(stateDict.get(key));
        });
        steps = step.itemLong();
        if (lrEntry != null) setLr(lrEntry.itemDouble());
    }

    /// The parameter index of a slot key `"<index>.<slot>"`, or -1 when `key` is not one.
    private static int slotIndex(String key) {
        int dot = key.indexOf('.');
        if (dot < 1 || dot > 9 || dot == key.length() - 1) return -1; // up to 9 digits: fits an int
        for (int k = 0; k < dot; k++) if (key.charAt(k) < '0' || key.charAt(k) > '9') return -1;
        return Integer.parseInt(key, 0, dot, 10);
    }

    /// Drops every parameter's gradient.
    public void zeroGrad() { for (Tensor p : params) p.zeroGrad(); }

    /// Applies one update from the parameters' current gradients (parameters without one are skipped).
    public void step() {
        List<Tensor> grads = new ArrayList<>();
        for (Tensor p : params) grads.add(p.grad());
        Update u;
        try (var _ = Kiln.noGrad()) {
            u = plan(grads, Tensor.scalar((double) (steps + 1)));
        }
        commit(u);
    }

    /// New parameter values (null where a gradient is null) and new state slots.
    public record Update(List<Tensor> params, Map<String, Tensor> state) {}

    /// The update for `grads` at step number `step` (an f64 scalar, 1 for the first step) as pending
    /// tensors; changes nothing. What `step()` and compiled train steps record.
    public Update plan(List<Tensor> grads, Tensor step) {
        if (grads.size() != params.size())
            throw new KilnException(getClass().getSimpleName() + ": " + grads.size() + " gradients for " + params.size() + " parameters");
        Slots slots = new Slots();
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor g = grads.get(i);
            if (g != null && !java.util.Arrays.equals(g.shape(), params.get(i).shape()))
                throw new KilnException(getClass().getSimpleName() + ": gradient of parameter " + i + " has shape "
                        + g.type().shape() + ", the parameter has " + params.get(i).type().shape());
            out.add(g == null ? null : update(i, params.get(i), g, step, slots));
        }
        return new Update(out, slots.written);
    }

    /// Computes an update's values (together, in one graph) and makes them current; counts a step.
    public void commit(Update u) {
        List<Tensor> all = new ArrayList<>();
        for (Tensor t : u.params()) if (t != null) all.add(t);
        all.addAll(u.state().values());
        Kiln.realize(all);
        for (int i = 0; i < params.size(); i++) if (u.params().get(i) != null) params.get(i).copy_(u.params().get(i));
        u.state().forEach((k, v) -> {
            Tensor cur = state.get(k); // updated in place: compiled steps read the slot tensors they traced
            if (cur == null) state.put(k, v.detach());
            else cur.copy_(v);
        });
        steps++;
    }

    /// The new value of parameter `index` from its gradient, in tensor ops; reads and writes
    /// state through `slots`. `step` is the 1-based step number (f64 scalar). The learning rate
    /// comes from `lrTensor()` or `lr(dtype)`, never from a Java number, so that a compiled step
    /// follows `setLr`.
    protected abstract Tensor update(int index, Tensor param, Tensor grad, Tensor step, Slots slots);

    /// Access to the state slots during one update.
    public final class Slots {
        private final Map<String, Tensor> written = new LinkedHashMap<>();

        private Slots() {}

        /// The current value of a slot of parameter `index` (zeros of the parameter's shape at first).
        public Tensor get(int index, String slot) {
            String key = index + "." + slot;
            return state.computeIfAbsent(key, _ -> Tensor.zerosLike(params.get(index)));
        }

        /// The slot's value after this update.
        public void set(int index, String slot, Tensor value) { written.put(index + "." + slot, value); }
    }
}
