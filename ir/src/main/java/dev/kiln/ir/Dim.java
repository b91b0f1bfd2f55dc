package dev.kiln.ir;

/// One dimension of a shape: a fixed size or a named symbol (`B`) bound when the graph runs.
/// Invariant: fixed sizes are non-negative; symbols are identifiers starting with a letter.
public sealed interface Dim {
    record Fixed(long size) implements Dim {
        public Fixed {
            if (size < 0) throw new IllegalArgumentException("negative dimension " + size);
        }
        @Override public String toString() { return Long.toString(size); }
    }

    record Sym(String name) implements Dim {
        public Sym {
            if (!isSymbolName(name)) throw new IllegalArgumentException("bad dimension symbol '" + name + "'");
        }
        @Override public String toString() { return name; }
    }

    static Dim of(long size) { return new Fixed(size); }
    static Dim sym(String name) { return new Sym(name); }

    static boolean isSymbolName(String s) {
        if (s == null || s.isEmpty() || !Character.isLetter(s.charAt(0))) return false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!Character.isLetterOrDigit(c) && c != '_') return false;
        }
        return true;
    }

    default boolean isFixed() { return this instanceof Fixed; }

    /// The fixed size; throws for a symbol.
    default long size() {
        if (this instanceof Fixed(long s)) return s;
        throw new IllegalStateException("dimension " + this + " is symbolic");
    }
}
