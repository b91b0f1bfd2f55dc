package dev.kiln;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/// Entry points that are not tensor methods: seeding, gradient mode, realization, the compile
/// cache, tracing and compiling modules, saving and loading state dicts.
public final class Kiln {
    private Kiln() {}

    private static final ThreadLocal<Boolean> GRAD_ENABLED = ThreadLocal.withInitial(() -> true);

    /// Seeds the generator behind `Tensor.rand`, `randn`, parameter initialization and dropout.
    public static void manualSeed(long seed) { Generator.manualSeed(seed); }

    /// Disables gradient recording until closed: `try (var _ = Kiln.noGrad()) { ... }`.
    public static GradMode noGrad() { return new GradMode(false); }

    /// Re-enables gradient recording until closed (inside a `noGrad` scope).
    public static GradMode enableGrad() { return new GradMode(true); }

    public static boolean isGradEnabled() { return GRAD_ENABLED.get(); }

    /// A scope that sets gradient mode and restores the previous mode when closed.
    public static final class GradMode implements AutoCloseable {
        private final boolean previous;

        private GradMode(boolean enabled) {
            previous = GRAD_ENABLED.get();
            GRAD_ENABLED.set(enabled);
        }

        @Override public void close() { GRAD_ENABLED.set(previous); }
    }

    /// Computes every pending tensor given, together, in one graph.
    public static void realize(Tensor... tensors) { realize(Arrays.asList(tensors)); }

    public static void realize(Collection<Tensor> tensors) {
        List<Node> nodes = new ArrayList<>();
        for (Tensor t : tensors) if (t != null) nodes.add(t.node);
        Realizer.realize(nodes);
    }

    /// How many graphs have been compiled (compile-cache misses) since the start or `clearCache`.
    public static long compileCount() { return Compiler.misses(); }

    /// How many times a compiled graph was reused (compile-cache hits).
    public static long cacheHits() { return Compiler.hits(); }

    /// Empties the compile cache and resets its counters.
    public static void clearCache() { Compiler.clear(); }

    /// The backend graphs are compiled with (from `-Dkiln.backend`, default `interpreter`).
    public static Backend backend() { return Compiler.backend(); }

    /// Selects the backend (and empties the compile cache).
    public static void setBackend(Backend backend) { Compiler.setBackend(backend); }
}
