package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir.BinOp;
import dev.kiln.ir.kernel.Kir.UnOp;
import dev.kiln.runtime.DType;

/// The op table of the PTX backend: for each kernel-IR operation on each compute type, one
/// line of PTX with the placeholders `$d` (result), `$a`, `$b` (operands). Operations that need
/// more than one instruction (integer division by zero, Java's `max` on floats, the
/// transcendental functions) return null here and are spelled out in `PtxGen` and `PtxMath`.
///
/// Register classes follow the compute type: `%p` predicates hold bools, `%r` i32, `%rd` i64
/// and addresses, `%f` f32 (and f16/bf16 values, kept in f32 registers and rounded after each
/// operation), `%fd` f64, `%h` raw 16-bit storage. Invariant: every template's `$d` has the
/// register class of the operation's result type.
public final class Ptx {
    private Ptx() {}

    /// A class of virtual registers: its name prefix and its PTX declaration type.
    public enum RegClass {
        PRED("%p", ".pred"), B16("%h", ".b16"), B32("%r", ".b32"), B64("%rd", ".b64"), F32("%f", ".f32"), F64("%fd", ".f64");

        final String prefix, decl;

        RegClass(String prefix, String decl) { this.prefix = prefix; this.decl = decl; }
    }

    /// The register class holding values of compute type `d`.
    public static RegClass regClass(DType d) {
        return switch (d) {
            case BOOL -> RegClass.PRED;
            case I32 -> RegClass.B32;
            case I64 -> RegClass.B64;
            case F16, BF16, F32 -> RegClass.F32;
            case F64 -> RegClass.F64;
        };
    }

    /// The PTX arithmetic type suffix of compute type `d` (f16/bf16 compute in f32).
    public static String arith(DType d) {
        return switch (d) {
            case BOOL -> "pred";
            case I32 -> "s32";
            case I64 -> "s64";
            case F16, BF16, F32 -> "f32";
            case F64 -> "f64";
        };
    }

    /// A one-instruction template for `op` on operands of type `t`, or null when it takes more.
    /// Float arithmetic names `.rn` so that ptxas never contracts a mul and an add into an fma:
    /// each operation then rounds exactly as the interpreter's does.
    public static String bin(BinOp op, DType t) {
        String s = arith(t);
        boolean f = t.isFloat();
        if (t == DType.BOOL) {
            return switch (op) {
                case AND -> "and.pred $d, $a, $b;";
                case OR -> "or.pred $d, $a, $b;";
                case NE -> "xor.pred $d, $a, $b;";
                default -> null;
            };
        }
        return switch (op) {
            case ADD -> f ? "add.rn." + s + " $d, $a, $b;" : "add." + s + " $d, $a, $b;";
            case SUB -> f ? "sub.rn." + s + " $d, $a, $b;" : "sub." + s + " $d, $a, $b;";
            case MUL -> f ? "mul.rn." + s + " $d, $a, $b;" : "mul.lo." + s + " $d, $a, $b;";
            case DIV -> f ? "div.rn." + s + " $d, $a, $b;" : null;          // ints: 0 for a zero divisor
            case MOD -> f ? null : "rem." + s + " $d, $a, $b;";
            case MAX -> f ? null : "max." + s + " $d, $a, $b;";             // floats: Java's NaN and -0 rules
            case MIN -> f ? null : "min." + s + " $d, $a, $b;";
            case EQ -> "setp.eq." + s + " $d, $a, $b;";
            case NE -> f ? "setp.neu." + s + " $d, $a, $b;" : "setp.ne." + s + " $d, $a, $b;"; // NaN != x holds
            case LT -> "setp.lt." + s + " $d, $a, $b;";
            case LE -> "setp.le." + s + " $d, $a, $b;";
            case GT -> "setp.gt." + s + " $d, $a, $b;";
            case GE -> "setp.ge." + s + " $d, $a, $b;";
            case POW, AND, OR -> null;
        };
    }

    /// A one-instruction template for `op` on an operand of type `t`, or null.
    public static String un(UnOp op, DType t) {
        String s = arith(t);
        return switch (op) {
            case NEG -> "neg." + s + " $d, $a;";
            case ABS -> "abs." + s + " $d, $a;";
            case SQRT -> t.isFloat() ? "sqrt.rn." + s + " $d, $a;" : null;
            case NOT -> t == DType.BOOL ? "not.pred $d, $a;" : null;
            case ISNAN -> t.isFloat() ? "testp.notanumber." + s + " $d, $a;" : null;
            case RELU -> t.isFloat() ? null : "max." + s + " $d, $a, 0;";
            case SIGN, EXP, LOG, TANH -> null;
        };
    }

    /// Global-memory type of a buffer of dtype `d` (bool is one byte, f16/bf16 raw 16 bits).
    public static String mem(DType d) {
        return switch (d) {
            case BOOL -> "u8";
            case I32 -> "s32";
            case I64 -> "s64";
            case F16, BF16 -> "b16";
            case F32 -> "f32";
            case F64 -> "f64";
        };
    }

    /// The register class a load of dtype `d` lands in before conversion to the compute type.
    public static RegClass memClass(DType d) {
        return switch (d) {
            case BOOL, F16, BF16 -> RegClass.B16;
            default -> regClass(d);
        };
    }

    /// A float constant in PTX's exact hexadecimal spelling (`0f3F800000`, `0d3FF0000000000000`).
    public static String floatLit(double v, DType t) {
        if (t == DType.F64) return String.format("0d%016X", Double.doubleToRawLongBits(v));
        return String.format("0f%08X", Float.floatToRawIntBits((float) v));
    }

    /// Fills a template.
    public static String fill(String template, String d, String a, String b) {
        String s = template.replace("$d", d).replace("$a", a);
        return b == null ? s : s.replace("$b", b);
    }
}
