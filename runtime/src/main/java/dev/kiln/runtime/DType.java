package dev.kiln.runtime;

/// An element type. The IR, the interpreter, the backends and the tensor files share this one
/// enum, so a dtype never needs translating between layers. Invariant: `text()` is the IR
/// spelling and is unique.
public enum DType {
    F16("f16", 2), BF16("bf16", 2), F32("f32", 4), F64("f64", 8),
    I32("i32", 4), I64("i64", 8), BOOL("bool", 1);

    private final String text;
    private final int byteSize;

    DType(String text, int byteSize) { this.text = text; this.byteSize = byteSize; }

    /// The IR spelling: `f32`, `i64`, `bool`, ...
    public String text() { return text; }
    public int byteSize() { return byteSize; }
    public boolean isFloat() { return this == F16 || this == BF16 || this == F32 || this == F64; }
    public boolean isInteger() { return this == I32 || this == I64; }

    /// The dtype spelled `text`, or null.
    public static DType parse(String text) {
        for (DType d : values()) if (d.text.equals(text)) return d;
        return null;
    }

    @Override public String toString() { return text; }
}
