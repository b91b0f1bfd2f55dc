package dev.kiln.ir.kernel;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Size;

import java.util.List;

/// The kernel IR: loop nests over named buffers, with scalar expressions, index arithmetic and
/// library calls for the heavy ops. Both backends consume it, so it says nothing about the JVM
/// or CUDA: buffers are numbered flat arrays, loops count from 0 to an extent, expressions are
/// typed trees. Invariant: every expression has one of the compute types BOOL, I32, I64, F16,
/// BF16, F32, F64, where F16/BF16 mean "a float rounded to that precision" (storage is the
/// backend's business); index arithmetic is I32 (tensors hold fewer than 2^31 elements).
/// Types follow from operands where they can, which lets the text form leave them out: a loop
/// counter is I32, a load has its buffer's dtype, `Un` and `Bin` their (first) operand's type
/// (BOOL for ISNAN and comparisons), `Sel` its arms' type.
public final class Kir {
    private Kir() {}

    // ---- expressions ---------------------------------------------------------------------

    /// A scalar expression. Evaluation has no side effects; a lazy `Sel` evaluates only the
    /// operand it picks (so a guarded load may sit in one arm).
    public sealed interface Expr { DType type(); }

    /// An integer or bool constant (bool: 0 or 1).
    public record IntConst(long value, DType type) implements Expr {}
    public record FloatConst(double value, DType type) implements Expr {}
    /// A dimension symbol (`B`), bound from the inputs' shapes at run time; I32.
    public record Sym(String name) implements Expr {
        public DType type() { return DType.I32; }
    }
    /// A loop counter (I32) or a local declared by `Let` (its value's type).
    public record Local(String name, DType type) implements Expr {}
    /// Element `index` of buffer `buffer`; `type` is the buffer's dtype.
    public record Load(int buffer, Expr index, DType type) implements Expr {}
    public record Un(UnOp op, Expr x, DType type) implements Expr {}
    /// Comparisons have type BOOL; the others the operands' type.
    public record Bin(BinOp op, Expr a, Expr b, DType type) implements Expr {}
    /// `cond ? onTrue : onFalse`. When `lazy`, only the chosen operand may be evaluated (an arm
    /// may hold a load that is out of bounds when not chosen: padding, concatenation); when not,
    /// both arms are safe, and a backend may evaluate both and pick without branching.
    public record Sel(Expr cond, Expr onTrue, Expr onFalse, DType type, boolean lazy) implements Expr {
        /// A lazy select: the safe reading.
        public Sel(Expr cond, Expr onTrue, Expr onFalse, DType type) { this(cond, onTrue, onFalse, type, true); }
    }
    /// Conversion with the interpreter's rules: float to int truncates toward zero, to bool is `!= 0`.
    public record Convert(Expr x, DType type) implements Expr {}
    /// Counter-based uniform in [0,1): a pure function of an i64 seed and an i64 element index.
    public record Rand(Expr seed, Expr index, DType type) implements Expr {}

    /// Calls `visit` on `e` and on every expression under it, each before its operands and the
    /// operands in order: the one walk over an expression tree that the analyses below and the
    /// backends' scans share.
    public static void forEach(Expr e, java.util.function.Consumer<Expr> visit) {
        visit.accept(e);
        switch (e) {
            case Load l -> forEach(l.index(), visit);
            case Un u -> forEach(u.x(), visit);
            case Bin b -> { forEach(b.a(), visit); forEach(b.b(), visit); }
            case Sel s -> { forEach(s.cond(), visit); forEach(s.onTrue(), visit); forEach(s.onFalse(), visit); }
            case Convert c -> forEach(c.x(), visit);
            case Rand r -> { forEach(r.seed(), visit); forEach(r.index(), visit); }
            case IntConst _, FloatConst _, Sym _, Local _ -> {}
        }
    }

    /// Names of the locals (loop counters, `Let`s) that `e` reads, in the order first read.
    public static java.util.Set<String> locals(Expr e) {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        forEach(e, x -> { if (x instanceof Local l) out.add(l.name()); });
        return out;
    }

    /// Adds the buffers that `e` loads from to `out`, in the order first loaded.
    public static void loads(Expr e, java.util.Collection<Integer> out) {
        forEach(e, x -> { if (x instanceof Load l) out.add(l.buffer()); });
    }

    /// Adds the buffers that `e` loads from to `bufs` and the symbols it names to `syms`, each in
    /// the order first met: what a backend passes to the code it generates for `e`.
    public static void uses(Expr e, java.util.Collection<Integer> bufs, java.util.Collection<String> syms) {
        forEach(e, x -> {
            if (x instanceof Load l) bufs.add(l.buffer());
            else if (x instanceof Sym s) syms.add(s.name());
        });
    }

    /// The buffers kernel `k` reads (loads and library-call operands).
    public static java.util.Set<Integer> reads(Kernel k) {
        java.util.Set<Integer> out = new java.util.HashSet<>();
        for (Stmt s : k.body()) reads(s, out);
        return out;
    }

    private static void reads(Stmt s, java.util.Set<Integer> out) {
        switch (s) {
            case Loop l -> { loads(l.extent(), out); for (Stmt b : l.body()) reads(b, out); }
            case Let l -> loads(l.value(), out);
            case Set l -> loads(l.value(), out);
            case Store st -> { loads(st.index(), out); loads(st.value(), out); }
            case Call c -> { out.addAll(c.call().reads()); if (c.epilogue() != null) reads(c.epilogue(), out); }
        }
    }

    /// The buffers kernel `k` writes (stores and library-call outputs).
    public static java.util.Set<Integer> writes(Kernel k) {
        java.util.Set<Integer> out = new java.util.HashSet<>();
        for (Stmt s : k.body()) writes(s, out);
        return out;
    }

    private static void writes(Stmt s, java.util.Set<Integer> out) {
        switch (s) {
            case Loop l -> { for (Stmt b : l.body()) writes(b, out); }
            case Store st -> out.add(st.buffer());
            case Call c -> { out.add(c.call().out()); if (c.epilogue() != null) writes(c.epilogue(), out); }
            case Let _, Set _ -> {}
        }
    }

    /// Evaluates an integer size expression with symbols bound by `sym`.
    public static long eval(Expr e, java.util.function.ToIntFunction<String> sym) {
        return switch (e) {
            case IntConst c -> c.value();
            case Sym s -> sym.applyAsInt(s.name());
            case Bin b -> {
                long x = eval(b.a(), sym), y = eval(b.b(), sym);
                yield switch (b.op()) {
                    case ADD -> x + y;
                    case SUB -> x - y;
                    case MUL -> x * y;
                    case DIV -> y == 0 ? 0 : x / y;
                    case MOD -> y == 0 ? 0 : x % y;
                    case MAX -> Math.max(x, y);
                    case MIN -> Math.min(x, y);
                    default -> throw new IllegalArgumentException("not a size expression: " + e);
                };
            }
            default -> throw new IllegalArgumentException("not a size expression: " + e);
        };
    }

    /// A size expression of the kernel IR (literals, symbols, integer arithmetic) as a run-time
    /// size (what a standalone jar's plan carries).
    public static Size size(Expr e, List<String> symbols) {
        return switch (e) {
            case IntConst c -> Size.literal(c.value());
            case Sym s -> {
                int i = symbols.indexOf(s.name());
                if (i < 0) throw new IllegalStateException("size names unknown symbol " + s.name());
                yield Size.symbol(i);
            }
            case Bin b -> Size.apply(switch (b.op()) {
                case ADD -> "+"; case SUB -> "-"; case MUL -> "*"; case DIV -> "/"; case MOD -> "%"; case MAX -> "max"; case MIN -> "min";
                default -> throw new IllegalStateException("not a size expression: " + e);
            }, size(b.a(), symbols), size(b.b(), symbols));
            default -> throw new IllegalStateException("not a size expression: " + e);
        };
    }

    public enum UnOp { NEG, ABS, SIGN, RELU, EXP, LOG, SQRT, TANH, NOT, ISNAN }

    /// DIV on integers truncates toward zero and gives 0 for a zero divisor; MOD is the index
    /// remainder (operands non-negative).
    public enum BinOp {
        ADD, SUB, MUL, DIV, MOD, POW, MAX, MIN, AND, OR, EQ, NE, LT, LE, GT, GE;
        public boolean isCompare() { return ordinal() >= EQ.ordinal(); }
    }

    // ---- statements ----------------------------------------------------------------------

    public sealed interface Stmt {}

    /// `for var in [0, extent)`. At the top level of a kernel a loop's iterations are
    /// independent (they write disjoint elements), so a backend may split it across threads.
    public record Loop(String var, Expr extent, List<Stmt> body) implements Stmt {
        public Loop { body = List.copyOf(body); }
    }
    /// Declares local `name` (mutable, so an accumulator is a Let plus Sets).
    public record Let(String name, Expr value) implements Stmt {}
    public record Set(String name, Expr value) implements Stmt {}
    /// Stores `value` (a compute type) into element `index` of `buffer`, converting to its dtype.
    public record Store(int buffer, Expr index, Expr value) implements Stmt {}
    /// A library kernel; `epilogue` (or null) is a loop nest over the call's output that runs
    /// after it, reading and rewriting the output in place (a bias, a relu, ...).
    public record Call(LibCall call, Loop epilogue) implements Stmt {}

    // ---- library calls -------------------------------------------------------------------

    /// The heavy ops, handed to tuned kernels. Buffers are numbered; sizes are expressions.
    public sealed interface LibCall {
        /// The buffer written.
        int out();
        /// The buffers read.
        List<Integer> reads();
    }

    /// `out[b] = op(a[b]) @ op(bm[b])` for each of `batch` matrices, `op` transposing when the
    /// flag is set: `a` is `[M,K]` (stored `[K,M]` when transA), `bm` is `[K,N]` (stored `[N,K]`
    /// when transB), `out` is `[M,N]`, all row-major and densely packed per batch.
    public record Gemm(int out, int a, int b, Expr batch, Expr m, Expr n, Expr k, boolean transA, boolean transB,
                       DType dtype) implements LibCall {
        public List<Integer> reads() { return List.of(a, b); }
    }

    public enum ConvForm { FORWARD, GRAD_INPUT, GRAD_WEIGHT }

    /// The fixed geometry of a 2-D convolution `x[N,C,H,W] * w[O,C/groups,KH,KW] -> y[N,O,OH,OW]`.
    public record ConvGeom(int c, int h, int w, int o, int kh, int kw, int oh, int ow,
                           int sh, int sw, int ph, int pw, int dh, int dw, int groups) {}

    /// One of the three convolution forms: FORWARD writes `y` from `x`,`w`; GRAD_INPUT writes
    /// `x` from `y` (the output gradient) and `w`; GRAD_WEIGHT writes `w` from `x` and `y`.
    public record Conv(ConvForm form, int x, int w, int y, Expr n, ConvGeom geom, DType dtype) implements LibCall {
        public int out() {
            return switch (form) { case FORWARD -> y; case GRAD_INPUT -> x; case GRAD_WEIGHT -> w; };
        }
        public List<Integer> reads() {
            return switch (form) { case FORWARD -> List.of(x, w); case GRAD_INPUT -> List.of(y, w); case GRAD_WEIGHT -> List.of(x, y); };
        }
    }

    // ---- program -------------------------------------------------------------------------

    public enum BufferKind { PARAM, CONST, TEMP }

    /// A flat array of `numel` elements of `dtype`. PARAM buffers are the inputs (index = the
    /// parameter number), CONST buffers hold dense constants (index into the program's
    /// constants), TEMP buffers are produced by kernels (results among them) and get memory
    /// from the buffer plan.
    public record Buffer(int id, String name, DType dtype, Expr numel, BufferKind kind, int index) {}

    /// One group of the graph (a fused region or a single op). Its top-level statements run in
    /// order; each is a `Loop` or a `Call`.
    public record Kernel(String name, String source, List<Stmt> body) {
        public Kernel { body = List.copyOf(body); }
    }
}
