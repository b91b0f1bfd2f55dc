package dev.kiln.ir.kernel;

import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/// Checks the invariants of a kernel program however it was built (by the lowering, by
/// `KirParser`, by hand), so that a backend can trust what it is given:
/// - buffer `i` has id `i`; PARAM buffer for parameter `p` has index `p`, each parameter has
///   one; a CONST buffer's constant exists and has its dtype; results name buffers;
/// - every symbol is bound by an axis of a parameter, and every `Sym` is a symbol;
/// - a kernel's top-level statements are loops and library calls; it writes only TEMP buffers,
///   and reads only PARAM and CONST buffers and buffers written before (by an earlier kernel, or
///   earlier in the same one);
/// - a local is read only where it is declared (a loop counter inside its loop, a `Let` after it
///   in its block or a nested one), declared once on any path, and `Set` keeps its type;
/// - the types follow `Kir`'s rules: loads have their buffer's dtype, `Un` and `Bin` their
///   operands' type (BOOL for ISNAN and comparisons), a `Sel` a BOOL condition and arms of its
///   type, indices, extents and sizes are I32, `Rand`'s seed and index I64, a stored value has
///   the buffer's dtype, a library call's buffers its dtype;
/// - the buffer plan has a slot for exactly the TEMP buffers that are written and are not
///   results, and buffers sharing a slot have one dtype and live ranges that do not overlap.
///
/// Errors are `IrError`s naming the kernel, its source, and the statement: `kernel k3_relu
/// (Mlp.java:18): b5[i0] = relu(b4[i0]): ...`.
public final class KirVerifier {
    private final KernelProgram p;
    private final IntFunction<Loc> where;
    private final java.util.Set<Integer> written = new HashSet<>();
    private int kernelIndex = -1;
    private String kernel = "";
    /// The statement being checked (null outside kernels); errors print its first line, which is
    /// only worth printing when there is an error.
    private Stmt current;

    private KirVerifier(KernelProgram p, IntFunction<Loc> where) { this.p = p; this.where = where; }

    /// Throws an `IrError` for the first broken invariant of `p`.
    public static void verify(KernelProgram p) { verify(p, k -> Loc.UNKNOWN); }

    /// The same, the error placed at `where.apply(k)` for a fault in kernel `k` (-1: in the
    /// program's buffers or plan), e.g. the line of a text file.
    public static void verify(KernelProgram p, IntFunction<Loc> where) { new KirVerifier(p, where).run(); }

    private void run() {
        List<Buffer> buffers = p.buffers();
        for (int i = 0; i < buffers.size(); i++) {
            Buffer b = buffers.get(i);
            if (b.id() != i) throw error("buffer #" + i + " has id " + b.id());
            checkSize(b.numel(), "the size of b" + i);
            switch (b.kind()) {
                case PARAM -> {
                    if (b.index() < 0 || b.index() >= p.params().size() || p.params().get(b.index()) != i)
                        throw error("b" + i + " says it holds parameter " + b.index() + ", but the program's parameters are " + names(p.params()));
                }
                case CONST -> {
                    if (b.index() < 0 || b.index() >= p.constants().size())
                        throw error("b" + i + " holds constant " + b.index() + ", but the program has " + p.constants().size());
                    if (p.constants().get(b.index()).dtype() != b.dtype())
                        throw error("b" + i + " is " + b.dtype() + ", but constant " + b.index() + " is " + p.constants().get(b.index()).dtype());
                }
                case TEMP -> {}
            }
        }
        for (int param = 0; param < p.params().size(); param++) {
            int id = p.params().get(param);
            if (id < 0 || id >= buffers.size() || buffers.get(id).kind() != BufferKind.PARAM || buffers.get(id).index() != param)
                throw error("parameter " + param + " names b" + id + ", which is not its PARAM buffer");
        }
        for (int r = 0; r < p.results().size(); r++)
            if (p.results().get(r) < 0 || p.results().get(r) >= buffers.size()) throw error("result " + r + " names b" + p.results().get(r) + ", which does not exist");
        if (p.symbolParams().size() != p.symbols().size() || p.symbolAxes().size() != p.symbols().size())
            throw error("each of the " + p.symbols().size() + " symbols needs one parameter and one axis that bind it");
        for (int s = 0; s < p.symbols().size(); s++)
            if (p.symbolParams().get(s) < 0 || p.symbolParams().get(s) >= p.params().size() || p.symbolAxes().get(s) < 0)
                throw error("symbol " + p.symbols().get(s) + " is bound by parameter " + p.symbolParams().get(s) + ", axis "
                        + p.symbolAxes().get(s) + ", which does not exist");

        for (Buffer b : buffers) if (b.kind() != BufferKind.TEMP) written.add(b.id());
        for (Kernel k : p.kernels()) {
            kernelIndex++;
            kernel = "kernel " + k.name() + (k.source().isEmpty() || k.source().equals("unknown") ? "" : " (" + k.source() + ")") + ": ";
            for (Stmt s : k.body()) {
                current = s;
                if (!(s instanceof Loop || s instanceof Call)) throw error("a kernel's top-level statements are loops and library calls");
                stmt(s, new Scope(null));
            }
        }
        current = null;
        kernelIndex = -1;
        kernel = "";
        plan();
    }

    // ---- statements ------------------------------------------------------------------------

    /// The locals visible in a block: its own and its enclosing blocks'.
    private record Scope(Scope outer, Map<String, DType> locals) {
        Scope(Scope outer) { this(outer, new HashMap<>()); }

        DType find(String name) {
            for (Scope s = this; s != null; s = s.outer) if (s.locals.containsKey(name)) return s.locals.get(name);
            return null;
        }
    }

    private void stmt(Stmt s, Scope scope) {
        current = s;
        switch (s) {
            case Loop l -> {
                expect(l.extent(), DType.I32, scope, "the loop's extent");
                declare(l.var(), scope);
                Scope inner = new Scope(scope);
                inner.locals.put(l.var(), DType.I32);
                for (Stmt b : l.body()) stmt(b, inner);
            }
            case Let l -> {
                type(l.value(), scope);
                declare(l.name(), scope);
                scope.locals.put(l.name(), l.value().type());
            }
            case Set l -> {
                DType declared = scope.find(l.name());
                if (declared == null) throw error("'" + l.name() + "' is not a local declared above");
                expect(l.value(), declared, scope, "the value set to " + l.name());
            }
            case Store st -> {
                Buffer b = buffer(st.buffer());
                expect(st.index(), DType.I32, scope, "the index");
                expect(st.value(), b.dtype(), scope, "the value stored in b" + b.id());
                write(b);
            }
            case Call c -> {
                call(c.call(), scope);
                if (c.epilogue() != null) stmt(c.epilogue(), scope);
            }
        }
    }

    private void declare(String name, Scope scope) {
        if (scope.find(name) != null) throw error("'" + name + "' is already declared in an enclosing block");
        if (p.symbols().contains(name)) throw error("local '" + name + "' has the name of a symbol");
    }

    private void call(LibCall c, Scope scope) {
        for (int r : c.reads()) read(buffer(r));
        switch (c) {
            case Gemm g -> {
                for (Expr e : List.of(g.batch(), g.m(), g.n(), g.k())) checkSize(e, "a gemm size");
                for (int b : List.of(g.out(), g.a(), g.b())) sameDtype(buffer(b), g.dtype());
            }
            case Conv cv -> {
                checkSize(cv.n(), "the batch size");
                for (int b : List.of(cv.x(), cv.w(), cv.y())) sameDtype(buffer(b), cv.dtype());
            }
        }
        write(buffer(c.out()));
    }

    private void sameDtype(Buffer b, DType t) {
        if (b.dtype() != t) throw error("b" + b.id() + " is " + b.dtype() + ", but the call is on " + t);
    }

    private Buffer buffer(int id) {
        if (id < 0 || id >= p.buffers().size()) throw error("buffer b" + id + " does not exist");
        return p.buffers().get(id);
    }

    private void read(Buffer b) {
        if (!written.contains(b.id())) throw error("reads b" + b.id() + " before anything writes it");
    }

    private void write(Buffer b) {
        if (b.kind() != BufferKind.TEMP) throw error("writes b" + b.id() + ", a " + b.kind().name().toLowerCase() + " buffer");
        written.add(b.id());
    }

    // ---- expressions -----------------------------------------------------------------------

    private void expect(Expr e, DType want, Scope scope, String what) {
        DType t = type(e, scope);
        if (t != want) throw error(what + " has type " + t + ", expected " + want);
    }

    /// `e`'s type, after checking it and everything under it.
    private DType type(Expr e, Scope scope) {
        return switch (e) {
            case IntConst c -> {
                if (!c.type().isInteger() && c.type() != DType.BOOL) throw error("integer constant " + c.value() + " of type " + c.type());
                yield c.type();
            }
            case FloatConst c -> {
                if (!c.type().isFloat()) throw error("float constant " + c.value() + " of type " + c.type());
                yield c.type();
            }
            case Sym y -> {
                symbol(y.name(), "");
                yield DType.I32;
            }
            case Local l -> {
                DType declared = scope.find(l.name());
                if (declared == null) throw error("'" + l.name() + "' is read where it is not declared");
                if (declared != l.type()) throw error("'" + l.name() + "' is read as " + l.type() + ", but it is declared " + declared);
                yield declared;
            }
            case Load l -> {
                Buffer b = buffer(l.buffer());
                read(b);
                expect(l.index(), DType.I32, scope, "the index into b" + b.id());
                if (l.type() != b.dtype()) throw error("a load from b" + b.id() + " has type " + l.type() + ", but the buffer is " + b.dtype());
                yield l.type();
            }
            case Un u -> {
                DType x = type(u.x(), scope);
                DType want = switch (u.op()) {
                    case ISNAN -> { if (!x.isFloat()) throw error("isnan of a " + x + " operand"); yield DType.BOOL; }
                    case NOT -> { if (x != DType.BOOL) throw error("not of a " + x + " operand"); yield DType.BOOL; }
                    default -> x;
                };
                if (u.type() != want) throw error(u.op().name().toLowerCase() + " of " + x + " has type " + u.type() + ", expected " + want);
                yield want;
            }
            case Bin b -> {
                DType x = type(b.a(), scope), y = type(b.b(), scope);
                if (x != y) throw error("the operands of " + b.op().name().toLowerCase() + " are " + x + " and " + y);
                if ((b.op() == BinOp.AND || b.op() == BinOp.OR) && x != DType.BOOL)
                    throw error(b.op().name().toLowerCase() + " of " + x + " operands, expected bool");
                DType want = b.op().isCompare() ? DType.BOOL : x;
                if (b.type() != want) throw error(b.op().name().toLowerCase() + " of " + x + " has type " + b.type() + ", expected " + want);
                yield want;
            }
            case Sel s -> {
                expect(s.cond(), DType.BOOL, scope, "a select's condition");
                expect(s.onTrue(), s.type(), scope, "a select's first arm");
                expect(s.onFalse(), s.type(), scope, "a select's second arm");
                yield s.type();
            }
            case Convert c -> {
                type(c.x(), scope);
                yield c.type();
            }
            case Rand r -> {
                expect(r.seed(), DType.I64, scope, "rand's seed");
                expect(r.index(), DType.I64, scope, "rand's index");
                if (!r.type().isFloat()) throw error("rand of type " + r.type() + ", expected a float type");
                yield r.type();
            }
        };
    }

    private void symbol(String name, String context) {
        if (!p.symbols().contains(name)) throw error(context + "'" + name + "' is not a symbol of the program (its symbols are " + p.symbols() + ")");
    }

    /// A size: literals, symbols and integer arithmetic (what `Kir.size` turns into a run-time size).
    private void checkSize(Expr e, String what) {
        switch (e) {
            case IntConst c when c.type() == DType.I32 && c.value() >= 0 -> {}
            case Sym y -> symbol(y.name(), what + ": ");
            case Bin b when b.type() == DType.I32 && !b.op().isCompare() && b.op() != BinOp.POW && b.op() != BinOp.AND && b.op() != BinOp.OR -> {
                checkSize(b.a(), what);
                checkSize(b.b(), what);
            }
            default -> throw error(what + " is " + KirPrinter.expr(e) + ", not a size (non-negative literals, symbols, + - * / % max min)");
        }
    }

    // ---- the buffer plan -------------------------------------------------------------------

    private void plan() {
        BufferPlan plan = p.plan();
        int n = p.buffers().size();
        if (plan.slotOf().length != n) throw error("the buffer plan covers " + plan.slotOf().length + " buffers, the program has " + n);
        java.util.Set<Integer> results = new HashSet<>(p.results());
        // the live ranges and slot members as the kernels give them, not as the plan says
        BufferPlan derived = BufferPlan.of(plan.slotOf(), p.buffers(), p.kernels());
        for (int b = 0; b < n; b++) {
            Buffer buf = p.buffers().get(b);
            boolean needsSlot = buf.kind() == BufferKind.TEMP && !results.contains(b) && derived.firstUse()[b] >= 0;
            int slot = plan.slotOf()[b];
            if (needsSlot && slot < 0) throw error("b" + b + " is an intermediate buffer without a slot in the buffer plan");
            if (!needsSlot && slot >= 0) throw error("b" + b + " has slot " + slot + ", but only intermediate buffers that kernels write share slots");
        }
        int[] first = derived.firstUse(), last = derived.lastUse();
        for (List<Integer> members : derived.slotBuffers())
            for (int i = 0; i < members.size(); i++)
                for (int j = i + 1; j < members.size(); j++) {
                    int a = members.get(i), b = members.get(j);
                    if (p.buffers().get(a).dtype() != p.buffers().get(b).dtype())
                        throw error("b" + a + " and b" + b + " share slot " + plan.slotOf()[a] + " but are " + p.buffers().get(a).dtype()
                                + " and " + p.buffers().get(b).dtype());
                    if (first[a] <= last[b] && first[b] <= last[a])
                        throw error("b" + a + " (kernels " + first[a] + " to " + last[a] + ") and b" + b + " (kernels " + first[b] + " to "
                                + last[b] + ") share slot " + plan.slotOf()[a] + " while both are live");
                }
    }

    private static String names(List<Integer> ids) { return ids.stream().map(i -> "b" + i).toList().toString(); }

    private IrError error(String what) {
        String at = current == null ? "" : KirPrinter.line(current) + ": ";
        return new IrError(where.apply(kernelIndex), "program @" + p.name() + ", " + kernel + at + what);
    }
}
