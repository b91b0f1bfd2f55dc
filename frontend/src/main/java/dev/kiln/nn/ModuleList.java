package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/// Submodules in a list, registered as `0`, `1`, ... (PyTorch's `ModuleList`): their parameters
/// and buffers are the owner's (`layers.0.weight`), but the list has no `forward`; the owner's
/// `forward` calls them as it likes.
public class ModuleList extends Module implements Iterable<Module> {
    private final List<Module> modules = new ArrayList<>();

    public ModuleList(Module... modules) { for (Module m : modules) append(m); }

    public ModuleList(List<? extends Module> modules) { for (Module m : modules) append(m); }

    /// Adds `module` at the end (as `<size>`); returns this list.
    public ModuleList append(Module module) {
        register(Integer.toString(modules.size()), module);
        modules.add(module);
        return this;
    }

    public Module get(int i) {
        if (i < 0 || i >= modules.size()) throw new KilnException("ModuleList: index " + i + " is out of range for " + modules.size() + " modules");
        return modules.get(i);
    }

    public int size() { return modules.size(); }

    @Override public Iterator<Module> iterator() { return Collections.unmodifiableList(modules).iterator(); }

    @Override public Tensor forward(Tensor x) {
        throw new KilnException("ModuleList has no forward: call its modules from the owner's forward");
    }
}
