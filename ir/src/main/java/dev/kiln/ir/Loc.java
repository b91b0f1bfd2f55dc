package dev.kiln.ir;

import java.util.List;

/// Where an op came from: the user's Java line that created it (with the module path), the op
/// whose gradient it computes, or the ops a fused kernel was made of. Printed inside `loc(...)`.
public sealed interface Loc {
    Loc UNKNOWN = new Unknown();

    record Unknown() implements Loc {
        @Override public String toString() { return "unknown"; }
    }

    /// `Mlp.java:18 in fc1`; `scope` may be empty.
    record Source(String file, int line, String scope) implements Loc {
        @Override public String toString() {
            return file + ":" + line + (scope.isEmpty() ? "" : " in " + scope);
        }
    }

    /// Computes part of the gradient of the op at `of`.
    record Grad(Loc of) implements Loc {
        @Override public String toString() { return "grad(" + of + ")"; }
    }

    /// A fused kernel made of ops at these locations (distinct, in order).
    record Fused(List<Loc> parts) implements Loc {
        public Fused { parts = List.copyOf(parts); }
        @Override public String toString() {
            StringBuilder s = new StringBuilder("fused[");
            for (int i = 0; i < parts.size(); i++) s.append(i > 0 ? ", " : "").append(parts.get(i));
            return s.append(']').toString();
        }
    }

    static Loc of(String file, int line, String scope) { return new Source(file, line, scope == null ? "" : scope); }
    static Loc of(String file, int line) { return new Source(file, line, ""); }

    default boolean isKnown() { return !(this instanceof Unknown); }
}
