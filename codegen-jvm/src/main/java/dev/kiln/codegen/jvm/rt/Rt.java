package dev.kiln.codegen.jvm.rt;

/// Small helpers that generated code calls where one bytecode would not do. Each is tiny, so
/// HotSpot inlines it into the kernel.
public final class Rt {
    private Rt() {}

    /// Integer division as the interpreter defines it: truncating, 0 for a zero divisor.
    public static int div(int a, int b) { return b == 0 ? 0 : a / b; }
    public static long div(long a, long b) { return b == 0 ? 0 : a / b; }

    public static float toF16(float f) { return Float.float16ToFloat(Float.floatToFloat16(f)); }
    public static float toBf16(float f) { return dev.kiln.runtime.NdArray.bf16ToFloat(dev.kiln.runtime.NdArray.floatToBf16(f)); }
}
