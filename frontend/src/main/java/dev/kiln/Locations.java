package dev.kiln;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Loc;
import dev.kiln.runtime.NdArray;

import java.security.CodeSource;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;

/// Where the user's code is: the source location that every recorded op carries. The line is the
/// innermost stack frame that is not Kiln's own (as tinygrad and JAX find the user's frame); the
/// scope is the path of the module whose `forward` is running (`conv.0`), kept by Kiln's modules.
/// Kiln's own code is recognised by package *and* by where its classes were loaded from, so user
/// code in a `dev.kiln.*` package (the examples, tests) still counts as the user's.
public final class Locations {
    private Locations() {}

    private static final StackWalker WALKER = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);
    private static final ThreadLocal<Deque<String>> SCOPES = ThreadLocal.withInitial(ArrayDeque::new);

    private static final ClassValue<Boolean> INTERNAL = new ClassValue<>() {
        @Override protected Boolean computeValue(Class<?> c) {
            String n = c.getName();
            if (n.startsWith("java.") || n.startsWith("jdk.") || n.startsWith("sun.")) return true;
            if (!n.startsWith("dev.kiln.") || n.startsWith("dev.kiln.examples.")) return false;
            String where = location(c);
            return where != null && (where.equals(location(Locations.class)) || where.equals(location(Builder.class))
                    || where.equals(location(NdArray.class)));
        }
    };

    private static String location(Class<?> c) {
        CodeSource cs = c.getProtectionDomain().getCodeSource();
        return cs == null || cs.getLocation() == null ? null : cs.getLocation().toString();
    }

    /// The user's current line and module scope, or `Loc.UNKNOWN` when no user frame is on the stack.
    public static Loc capture() {
        StackWalker.StackFrame f = WALKER.walk(s -> s.filter(fr -> !INTERNAL.get(fr.getDeclaringClass())).findFirst().orElse(null));
        if (f == null || f.getFileName() == null) return Loc.UNKNOWN;
        return Loc.of(f.getFileName(), f.getLineNumber(), scope());
    }

    /// The innermost module path, or "".
    public static String scope() {
        String s = SCOPES.get().peek();
        return s == null ? "" : s;
    }

    /// Enters a module's scope until closed: `try (var _ = Locations.enter("fc")) { ... }`.
    public static ScopeHandle enter(String path) {
        Deque<String> d = SCOPES.get();
        d.push(Objects.requireNonNullElse(path, ""));
        return new ScopeHandle(d);
    }

    /// Leaves the scope entered with it.
    public record ScopeHandle(Deque<String> stack) implements AutoCloseable {
        @Override public void close() { stack.pop(); }
    }
}
