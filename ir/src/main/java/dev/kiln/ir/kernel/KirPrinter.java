package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.*;

import java.util.List;

/// The text form of kernel IR, for dumps and golden tests:
/// ```
/// kernel k3_relu  // Mlp.java:18
///   for i0 < B*128 {
///     b5[i0] = relu(b4[i0])
///   }
/// ```
/// Loads print `b<id>[index]`; a cast prints `(f32) x`; a library call prints its operands and
/// sizes, and its epilogue below it.
public final class KirPrinter {
    private KirPrinter() {}

    public static String print(KernelProgram p) {
        StringBuilder s = new StringBuilder("program @" + p.name());
        if (!p.symbols().isEmpty()) s.append(" symbols ").append(p.symbols());
        s.append('\n');
        for (Buffer b : p.buffers()) {
            s.append("  b").append(b.id()).append(": ").append(b.dtype()).append('[').append(expr(b.numel())).append("] ")
                    .append(b.kind().name().toLowerCase());
            if (b.kind() != BufferKind.TEMP) s.append(' ').append(b.index());
            s.append(" \"").append(b.name()).append('"');
            int r = p.results().indexOf(b.id());
            if (r >= 0) s.append(" result ").append(r);
            int slot = p.plan().slotOf()[b.id()];
            if (slot >= 0) s.append(" slot ").append(slot);
            s.append('\n');
        }
        for (Kernel k : p.kernels()) s.append(print(k));
        return s.toString();
    }

    public static String print(Kernel k) {
        StringBuilder s = new StringBuilder("kernel " + k.name());
        if (!k.source().isEmpty() && !k.source().equals("unknown")) s.append("  // ").append(k.source());
        s.append('\n');
        for (Stmt st : k.body()) stmt(st, 1, s);
        return s.toString();
    }

    static void stmt(Stmt st, int depth, StringBuilder s) {
        String pad = "  ".repeat(depth);
        switch (st) {
            case Loop l -> {
                s.append(pad).append("for ").append(l.var()).append(" < ").append(expr(l.extent())).append(" {\n");
                for (Stmt b : l.body()) stmt(b, depth + 1, s);
                s.append(pad).append("}\n");
            }
            case Let l -> s.append(pad).append(l.value().type()).append(' ').append(l.name()).append(" = ").append(expr(l.value())).append('\n');
            case Set l -> s.append(pad).append(l.name()).append(" = ").append(expr(l.value())).append('\n');
            case Store st2 -> s.append(pad).append('b').append(st2.buffer()).append('[').append(expr(st2.index())).append("] = ")
                    .append(expr(st2.value())).append('\n');
            case Call c -> {
                s.append(pad).append(call(c.call())).append('\n');
                if (c.epilogue() != null) {
                    s.append(pad).append("epilogue:\n");
                    stmt(c.epilogue(), depth + 1, s);
                }
            }
        }
    }

    static String call(LibCall c) {
        return switch (c) {
            case Gemm g -> "b" + g.out() + " = gemm" + (g.transA() ? "T" : "N") + (g.transB() ? "T" : "N") + "(b" + g.a() + ", b" + g.b()
                    + ") batch=" + expr(g.batch()) + " m=" + expr(g.m()) + " n=" + expr(g.n()) + " k=" + expr(g.k()) + " " + g.dtype();
            case Conv cv -> {
                ConvGeom q = cv.geom();
                String args = switch (cv.form()) {
                    case FORWARD -> "b" + cv.y() + " = conv2d(b" + cv.x() + ", b" + cv.w() + ")";
                    case GRAD_INPUT -> "b" + cv.x() + " = conv2d_grad_input(b" + cv.y() + ", b" + cv.w() + ")";
                    case GRAD_WEIGHT -> "b" + cv.w() + " = conv2d_grad_weight(b" + cv.x() + ", b" + cv.y() + ")";
                };
                yield args + " n=" + expr(cv.n()) + " c=" + q.c() + " hw=" + q.h() + "x" + q.w() + " o=" + q.o() + " k=" + q.kh() + "x" + q.kw()
                        + " out=" + q.oh() + "x" + q.ow() + " stride=" + q.sh() + "," + q.sw() + " pad=" + q.ph() + "," + q.pw()
                        + " dil=" + q.dh() + "," + q.dw() + " groups=" + q.groups() + " " + cv.dtype();
            }
        };
    }

    public static String expr(Expr e) {
        return switch (e) {
            case IntConst c -> c.type() == dev.kiln.runtime.DType.BOOL ? (c.value() != 0 ? "true" : "false")
                    : c.type() == dev.kiln.runtime.DType.I64 ? c.value() + "L" : Long.toString(c.value());
            case FloatConst c -> Double.toString(c.value()) + (c.type() == dev.kiln.runtime.DType.F64 ? "d" : c.type() == dev.kiln.runtime.DType.F32 ? "f" : "_" + c.type());
            case Sym y -> y.name();
            case Local l -> l.name();
            case Load l -> "b" + l.buffer() + "[" + expr(l.index()) + "]";
            case Un u -> u.op().name().toLowerCase() + "(" + expr(u.x()) + ")";
            case Bin b -> switch (b.op()) {
                case ADD, SUB, MUL, DIV, MOD, LT, LE, GT, GE, EQ, NE, AND, OR ->
                        "(" + expr(b.a()) + " " + symbol(b.op()) + " " + expr(b.b()) + ")";
                default -> b.op().name().toLowerCase() + "(" + expr(b.a()) + ", " + expr(b.b()) + ")";
            };
            case Sel s -> s.lazy() ? "(" + expr(s.cond()) + " ? " + expr(s.onTrue()) + " : " + expr(s.onFalse()) + ")"
                    : "select(" + expr(s.cond()) + ", " + expr(s.onTrue()) + ", " + expr(s.onFalse()) + ")";
            case Convert c -> "(" + c.type() + ") " + expr(c.x());
            case Rand r -> "rand(" + expr(r.seed()) + ", " + expr(r.index()) + ")";
        };
    }

    private static String symbol(BinOp op) {
        return switch (op) {
            case ADD -> "+"; case SUB -> "-"; case MUL -> "*"; case DIV -> "/"; case MOD -> "%";
            case LT -> "<"; case LE -> "<="; case GT -> ">"; case GE -> ">="; case EQ -> "=="; case NE -> "!=";
            case AND -> "&&"; case OR -> "||";
            default -> op.name();
        };
    }

    static String join(List<String> xs) { return String.join(", ", xs); }
}
