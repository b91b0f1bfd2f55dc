package dev.kiln.nn;

import dev.kiln.BufferUpdates;
import dev.kiln.Device;
import dev.kiln.KilnException;
import dev.kiln.Locations;
import dev.kiln.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// A layer or model, as PyTorch's `nn.Module`: it owns parameters (tensors that require
/// gradients), buffers and named submodules, registered by name so that `stateDict()` uses
/// PyTorch's dotted names (`conv.0.weight`, `fc.bias`). Subclasses override `forward`.
///
/// Kiln's own modules record their ops inside a scope named by their path, so every op in a
/// trace or an error message says which layer it came from (`Mlp.java:18 in fc1`).
/// Invariant: names are unique within a module and contain no dots.
public abstract class Module {
    private final Map<String, Module> modules = new LinkedHashMap<>();
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private Module parent;
    private String name = "";
    private boolean training = true;

    /// Runs the module on one input.
    public Tensor forward(Tensor x) {
        throw new KilnException(getClass().getSimpleName() + " does not define forward(Tensor)");
    }

    /// Runs the module on two inputs (losses take input and target).
    public Tensor forward(Tensor x, Tensor y) {
        throw new KilnException(getClass().getSimpleName() + " does not define forward(Tensor, Tensor)");
    }

    /// Runs `forward` with as many inputs as given (what tracing calls).
    public Tensor forward(Tensor... xs) {
        return switch (xs.length) {
            case 1 -> forward(xs[0]);
            case 2 -> forward(xs[0], xs[1]);
            default -> throw new KilnException(getClass().getSimpleName() + " does not define forward with " + xs.length + " inputs");
        };
    }

    // ---- registration ----------------------------------------------------------------------

    /// Adds `module` as a submodule called `name` and returns it: `final Linear fc = register("fc", new Linear(3136, 10));`
    protected <M extends Module> M register(String name, M module) {
        checkName(name);
        if (module == this) throw new KilnException("a module cannot be its own submodule");
        modules.put(name, module);
        Module m = module;
        if (m.parent == null) {
            m.parent = this;
            m.name = name;
        }
        return module;
    }

    /// Adds `t` as a parameter called `name`; it becomes a leaf that requires gradients.
    protected Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        parameters.put(name, t.requiresGrad(true));
        return t;
    }

    /// Adds `t` as a buffer: state saved in the state dict but not trained.
    protected Tensor registerBuffer(String name, Tensor t) {
        checkName(name);
        buffers.put(name, t);
        return t;
    }

    /// Gives buffers of this module new values computed in `forward` (BatchNorm's running
    /// statistics), by name: at once when eager, as extra results of a compiled train step when
    /// traced (see `BufferUpdates`). Each value must have its buffer's shape; it is converted to
    /// its dtype.
    protected final void updateBuffers(Map<String, Tensor> values) {
        Map<Tensor, Tensor> updates = new LinkedHashMap<>();
        values.forEach((name, value) -> {
            Tensor b = buffers.get(name);
            if (b == null) throw new KilnException(getClass().getSimpleName() + " has no buffer named '" + name + "'");
            updates.put(b, value);
        });
        BufferUpdates.set(updates, describe());
    }

    /// The class and path, for messages: `BatchNorm2d 'features.1'`.
    private String describe() {
        return getClass().getSimpleName() + (path().isEmpty() ? "" : " '" + path() + "'");
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty() || name.contains("."))
            throw new KilnException("bad module member name '" + name + "': names must be non-empty and contain no '.'");
        if (modules.containsKey(name) || parameters.containsKey(name) || buffers.containsKey(name))
            throw new KilnException(getClass().getSimpleName() + " already has a member named '" + name + "'");
    }

    // ---- structure -------------------------------------------------------------------------

    /// This module's dotted path from the root it was first registered under ("" for a root).
    public String path() {
        if (parent == null) return "";
        String p = parent.path();
        return p.isEmpty() ? name : p + "." + name;
    }

    /// Enters this module's scope for the ops recorded until it is closed.
    protected final Locations.ScopeHandle scope() { return Locations.enter(path()); }

    /// Direct submodules by name, in registration order.
    public Map<String, Module> children() { return Collections.unmodifiableMap(modules); }

    /// Every parameter of this module and its submodules, each once, in state-dict order.
    public List<Tensor> parameters() {
        Set<Tensor> seen = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : namedParameters().values()) if (seen.add(t)) out.add(t);
        return out;
    }

    /// Parameters by dotted name: own parameters first, then each submodule's, as PyTorch orders them.
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, false);
        return out;
    }

    /// Parameters and buffers by dotted name (an ordered map): what `Kiln.save` writes.
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out, boolean withBuffers) {
        parameters.forEach((n, t) -> out.putIfAbsent(prefix + n, t));
        if (withBuffers) buffers.forEach((n, t) -> out.putIfAbsent(prefix + n, t));
        modules.forEach((n, m) -> m.collect(prefix + n + ".", out, withBuffers));
    }

    /// Copies values from `state` into this module's parameters and buffers (converting dtypes).
    /// Strict: every key must be present, none extra, and every shape must match.
    public void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> own = stateDict();
        Set<String> missing = new LinkedHashSet<>(own.keySet()), unexpected = new LinkedHashSet<>(state.keySet());
        missing.removeAll(state.keySet());
        unexpected.removeAll(own.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty())
            throw new KilnException("loadStateDict for " + getClass().getSimpleName() + ": "
                    + (missing.isEmpty() ? "" : "missing keys " + missing + (unexpected.isEmpty() ? "" : "; "))
                    + (unexpected.isEmpty() ? "" : "unexpected keys " + unexpected));
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey()), dst = e.getValue();
            if (!java.util.Arrays.equals(src.shape(), dst.shape()))
                throw new KilnException("loadStateDict: size mismatch for " + e.getKey() + ": the state dict has shape "
                        + src.type().shape() + ", the parameter in the current model has shape " + dst.type().shape());
        }
        for (var e : own.entrySet()) e.getValue().copy_(state.get(e.getKey()));
    }

    /// Sets training mode here and in every submodule (dropout is active only in training).
    public Module train(boolean on) {
        training = on;
        for (Module m : modules.values()) m.train(on);
        return this;
    }

    public Module train() { return train(true); }

    public Module eval() { return train(false); }

    public boolean isTraining() { return training; }

    /// Moves the parameters and buffers to `device` in place (the same tensor objects, so an
    /// optimizer made before or after sees them); returns this module.
    @SuppressWarnings("unchecked")
    public <M extends Module> M to(Device device) {
        for (Tensor t : stateDict().values()) t.to_(device);
        return (M) this;
    }

    /// Drops the gradients of all parameters.
    public void zeroGrad() { for (Tensor p : parameters()) p.zeroGrad(); }

    /// The total number of parameter elements.
    public long numParameters() {
        long n = 0;
        for (Tensor p : parameters()) n += p.numel();
        return n;
    }

    // ---- printing --------------------------------------------------------------------------

    /// The text inside this module's parentheses when printed (`in_features=784, ...`).
    protected String extraRepr() { return ""; }

    /// The structure, as PyTorch's `print(model)` shows it.
    @Override public String toString() {
        List<String> lines = new ArrayList<>();
        String extra = extraRepr();
        if (!extra.isEmpty()) lines.addAll(List.of(extra.split("\n")));
        modules.forEach((n, m) -> lines.add("(" + n + "): " + m.toString().replace("\n", "\n  ")));
        String cls = getClass().getSimpleName().isEmpty() ? getClass().getSuperclass().getSimpleName() : getClass().getSimpleName();
        if (lines.isEmpty()) return cls + "()";
        if (modules.isEmpty() && lines.size() == 1) return cls + "(" + lines.getFirst() + ")";
        return cls + "(\n  " + String.join("\n  ", lines) + "\n)";
    }
}
