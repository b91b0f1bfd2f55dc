package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.*;

import dev.kiln.ir.DenseData;
import dev.kiln.ir.text.Printer;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.List;

/// The text form of kernel IR, for dumps and golden tests; `KirParser` reads it back into an
/// equal program:
/// ```
/// program @mlp symbols [B]
///   b0: f32[(B * 784)] param 0 "x" (B = axis 0)
///   b1: f32[6] const 0 "const0"
///   b2: f32[(B * 128)] temp "%0" slot 0
///   b3: f32[B] temp "%1" result 0
///   const 0: f32[2,3] [1.0,2.0,3.0,4.0,5.0,6.0]
/// kernel k3_relu  // Mlp.java:18
///   for i0 < (B * 128) {
///     b2[i0] = relu(b0[i0])
///   }
/// ```
/// A buffer line gives its dtype, element count, kind, index (parameter or constant number),
/// name, the symbols a parameter binds (`B = axis 0`: from its first axis), which results it
/// holds and its memory slot; the rest of the buffer plan follows from the slots
/// (`BufferPlan.of`). A constant prints as the graph IR prints dense data: its type, then its
/// values. Loads print `b<id>[index]`; a cast prints `(f32) x`; a library call prints its
/// operands and sizes, and its epilogue below it. Types that the expression rules of `Kir`
/// give are not printed: a `Let` prints its type, and `rand_f32(seed, index)` its own.
public final class KirPrinter {
    private KirPrinter() {}

    public static String print(KernelProgram p) {
        StringBuilder s = new StringBuilder("program @" + Printer.graphName(p.name()));
        if (!p.symbols().isEmpty()) s.append(" symbols [").append(String.join(", ", p.symbols())).append(']');
        s.append('\n');
        for (Buffer b : p.buffers()) {
            s.append("  b").append(b.id()).append(": ").append(b.dtype()).append('[').append(expr(b.numel())).append("] ")
                    .append(b.kind().name().toLowerCase());
            if (b.kind() != BufferKind.TEMP) s.append(' ').append(b.index());
            s.append(' ').append(Printer.quote(b.name()));
            List<String> binds = new ArrayList<>();
            for (int y = 0; y < p.symbols().size(); y++)
                if (b.kind() == BufferKind.PARAM && p.symbolParams().get(y) == b.index())
                    binds.add(p.symbols().get(y) + " = axis " + p.symbolAxes().get(y));
            if (!binds.isEmpty()) s.append(" (").append(String.join(", ", binds)).append(')');
            List<String> results = new ArrayList<>();
            for (int r = 0; r < p.results().size(); r++) if (p.results().get(r) == b.id()) results.add(Integer.toString(r));
            if (!results.isEmpty()) s.append(" result ").append(String.join(", ", results));
            int slot = p.plan().slotOf()[b.id()];
            if (slot >= 0) s.append(" slot ").append(slot);
            s.append('\n');
        }
        for (int c = 0; c < p.constants().size(); c++) {
            DenseData d = new DenseData(p.constants().get(c));
            s.append("  const ").append(c).append(": ").append(d.type()).append(' ').append(Printer.dense(d)).append('\n');
        }
        for (Kernel k : p.kernels()) s.append(print(k));
        return s.toString();
    }

    public static String print(Kernel k) {
        StringBuilder s = new StringBuilder("kernel " + Printer.graphName(k.name()));
        if (!k.source().equals("unknown")) s.append("  // ").append(k.source());
        s.append('\n');
        for (Stmt st : k.body()) stmt(st, 1, s);
        return s.toString();
    }

    /// The first line of `st` as printed, without indentation: a loop's header, a call without
    /// its epilogue (for error messages).
    public static String line(Stmt st) {
        StringBuilder s = new StringBuilder();
        stmt(st instanceof Loop l ? new Loop(l.var(), l.extent(), List.of()) : st instanceof Call c ? new Call(c.call(), null) : st, 0, s);
        String first = s.toString().lines().findFirst().orElse("").strip();
        return first.endsWith(" {") ? first.substring(0, first.length() - 2) : first;
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
            case IntConst c -> c.type() == DType.BOOL ? (c.value() != 0 ? "true" : "false")
                    : c.type() == DType.I64 ? c.value() + "L" : Long.toString(c.value());
            case FloatConst c -> Double.toString(c.value()) + (c.type() == DType.F64 ? "d" : c.type() == DType.F32 ? "f" : "_" + c.type());
            case Sym y -> y.name();
            case Local l -> l.name();
            case Load l -> "b" + l.buffer() + "[" + expr(l.index()) + "]";
            case Un u -> u.op().name().toLowerCase() + "(" + expr(u.x()) + ")";
            case Bin b -> infix(b.op()) != null ? "(" + expr(b.a()) + " " + infix(b.op()) + " " + expr(b.b()) + ")"
                    : b.op().name().toLowerCase() + "(" + expr(b.a()) + ", " + expr(b.b()) + ")";
            case Sel s -> s.lazy() ? "(" + expr(s.cond()) + " ? " + expr(s.onTrue()) + " : " + expr(s.onFalse()) + ")"
                    : "select(" + expr(s.cond()) + ", " + expr(s.onTrue()) + ", " + expr(s.onFalse()) + ")";
            case Convert c -> "(" + c.type() + ") " + expr(c.x());
            case Rand r -> "rand_" + r.type() + "(" + expr(r.seed()) + ", " + expr(r.index()) + ")";
        };
    }

    /// The operator that `op` prints between its operands, or null when it prints as a call (`max(a, b)`).
    static String infix(BinOp op) {
        return switch (op) {
            case ADD -> "+"; case SUB -> "-"; case MUL -> "*"; case DIV -> "/"; case MOD -> "%";
            case LT -> "<"; case LE -> "<="; case GT -> ">"; case GE -> ">="; case EQ -> "=="; case NE -> "!=";
            case AND -> "&&"; case OR -> "||";
            case POW, MAX, MIN -> null;
        };
    }
}
