package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Rng;

import java.util.HashMap;
import java.util.Map;

/// A direct evaluator of kernel-IR statements over NdArrays, for checking on the CPU the loop
/// nests this module builds itself (the convolutions of `ConvLoops`). Values are Long (ints),
/// Boolean, or Double rounded to the expression's float type after each operation.
final class KirEval {
    final Map<Integer, NdArray> buffers;
    final Map<String, Integer> symbols;
    final Map<String, Object> locals = new HashMap<>();

    KirEval(Map<Integer, NdArray> buffers, Map<String, Integer> symbols) {
        this.buffers = buffers;
        this.symbols = symbols;
    }

    void run(Stmt s) {
        switch (s) {
            case Loop l -> {
                long n = (Long) eval(l.extent());
                for (long i = 0; i < n; i++) {
                    locals.put(l.var(), i);
                    for (Stmt b : l.body()) run(b);
                }
            }
            case Let l -> locals.put(l.name(), eval(l.value()));
            case Set l -> locals.put(l.name(), eval(l.value()));
            case Store st -> {
                NdArray a = buffers.get(st.buffer());
                int i = (int) (long) (Long) eval(st.index());
                Object v = eval(st.value());
                switch (v) {
                    case Boolean z -> a.setBool(i, z);
                    case Long x -> a.setLong(i, x);
                    default -> a.setDouble(i, (Double) v);
                }
            }
            case Call c -> throw new IllegalStateException("calls are not evaluated here");
        }
    }

    static double round(double v, DType t) {
        return switch (t) {
            case F32 -> (float) v;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            case BF16 -> NdArray.bf16ToFloat(NdArray.floatToBf16((float) v));
            default -> v;
        };
    }

    static Object cast(Object v, DType to) {
        if (to == DType.BOOL) return v instanceof Boolean b ? b : v instanceof Long l ? l != 0 : (Double) v != 0;
        if (to.isInteger()) {
            long x = v instanceof Boolean b ? (b ? 1 : 0) : v instanceof Long l ? l : (long) (double) (Double) v;
            return to == DType.I32 ? (long) (int) x : x;
        }
        double d = v instanceof Boolean b ? (b ? 1 : 0) : v instanceof Long l ? (double) l : (Double) v;
        return round(d, to);
    }

    Object eval(Expr e) {
        return switch (e) {
            case IntConst c -> c.type() == DType.BOOL ? (Object) (c.value() != 0) : (Object) c.value();
            case FloatConst c -> c.value();
            case Sym s -> (long) symbols.get(s.name());
            case Local l -> locals.get(l.name());
            case Load l -> {
                NdArray a = buffers.get(l.buffer());
                int i = (int) (long) (Long) eval(l.index());
                DType d = a.dtype();
                yield d == DType.BOOL ? (Object) a.getBool(i) : d.isInteger() ? (Object) a.getLong(i) : (Object) a.getDouble(i);
            }
            case Convert c -> cast(eval(c.x()), c.type());
            case Sel s -> (Boolean) eval(s.cond()) ? eval(s.onTrue()) : eval(s.onFalse());
            case Rand r -> round(Rng.uniform((Long) eval(r.seed()), (Long) eval(r.index())), r.type());
            case Un u -> {
                Object x = eval(u.x());
                yield switch (u.op()) {
                    case NOT -> !(Boolean) x;
                    case ISNAN -> x instanceof Double d && d.isNaN();
                    default -> {
                        if (x instanceof Long l) yield switch (u.op()) {
                            case NEG -> -l; case ABS -> Math.abs(l); case SIGN -> (long) Long.signum(l); case RELU -> Math.max(l, 0);
                            default -> throw new IllegalStateException();
                        };
                        double d = (Double) x;
                        yield round(switch (u.op()) {
                            case NEG -> -d; case ABS -> Math.abs(d); case SIGN -> Math.signum(d); case RELU -> d > 0 || Double.isNaN(d) ? d : 0;
                            case EXP -> Math.exp(d); case LOG -> Math.log(d); case SQRT -> Math.sqrt(d); case TANH -> Math.tanh(d);
                            default -> throw new IllegalStateException();
                        }, u.type());
                    }
                };
            }
            case Bin b -> {
                Object x = eval(b.a()), y = eval(b.b());
                if (x instanceof Boolean p) {
                    boolean q = (Boolean) y;
                    yield switch (b.op()) { case AND -> p && q; case OR -> p || q; case EQ -> p == q; case NE -> p != q;
                        default -> throw new IllegalStateException(); };
                }
                if (x instanceof Long p) {
                    long q = (Long) y;
                    Object r = switch (b.op()) {
                        case ADD -> p + q; case SUB -> p - q; case MUL -> p * q; case DIV -> q == 0 ? 0L : p / q; case MOD -> p % q;
                        case MAX -> Math.max(p, q); case MIN -> Math.min(p, q);
                        case EQ -> p == q; case NE -> p != q; case LT -> p < q; case LE -> p <= q; case GT -> p > q; case GE -> p >= q;
                        default -> throw new IllegalStateException();
                    };
                    yield r instanceof Long l && b.type() == DType.I32 ? (Object) (long) (int) (long) l : r;
                }
                double p = (Double) x, q = (Double) y;
                yield switch (b.op()) {
                    case EQ -> p == q; case NE -> p != q; case LT -> p < q; case LE -> p <= q; case GT -> p > q; case GE -> p >= q;
                    default -> round(switch (b.op()) {
                        case ADD -> p + q; case SUB -> p - q; case MUL -> p * q; case DIV -> p / q; case POW -> Math.pow(p, q);
                        case MAX -> Math.max(p, q); case MIN -> Math.min(p, q);
                        default -> throw new IllegalStateException();
                    }, b.type());
                };
            }
        };
    }
}
