package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.Launch.Arg;
import dev.kiln.codegen.cuda.Ptx.RegClass;
import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/// Kernel IR to PTX: one module per kernel program, one `.entry` per top-level loop nest (and
/// per library call and epilogue), each with a `Launch` saying how to run it.
///
/// How a loop nest maps to the GPU. The outermost loop of a nest has independent iterations;
/// so do the perfectly nested output loops below it (a loop body that is only `let`s and one
/// more output loop). Those loops are flattened into one index space of P elements.
/// - thread mode: one thread per element, a grid-stride loop over P; whatever is inside the
///   flattened loops (accumulator loops, inner output loops) runs serially in the thread.
/// - block mode, chosen when what is inside holds a large reduction (see `useBlocks`): one
///   block per element, block-stride over P; the block's threads split each reduction loop
///   nest between them and combine their partial accumulators with warp shuffles and shared
///   memory; inner output loops are split across the threads; single stores are done by
///   thread 0. This is the shape of a softmax row, a loss over the batch, a bias gradient, a
///   convolution's weight gradient.
///
/// Values live in typed virtual registers (`Ptx.regClass`); a `Sel` whose arms read memory
/// becomes a branch (the IR promises that only the picked arm is evaluated, and a padded read
/// may be out of bounds), any other `Sel` a `selp`.
public final class PtxGen {
    /// How f32 matmuls and implicit-GEMM convolutions multiply. FP32 (the default) is exact
    /// fp32 arithmetic. TF32 and BF16 run them on tensor cores (`mma.sync` m16n8k8) with the
    /// inputs rounded to tf32 (10 explicit mantissa bits, to nearest, ties away) or bf16 (7,
    /// to nearest even), the products summed in f32: faster, within `inputError` relative
    /// error of each input, so a result is within about `2 * inputError * sum |a*b|`.
    public enum Precision {
        FP32(0), TF32(0x1p-11), BF16(0x1p-8);

        /// The largest relative error of one rounded input.
        public final double inputError;

        Precision(double inputError) { this.inputError = inputError; }

        /// The name in `-Dkiln.cuda.precision` and in launch modes: `fp32`, `tf32`, `bf16`.
        public String label() { return name().toLowerCase(); }

        static Precision of(String label) {
            for (Precision p : values()) if (p.label().equals(label)) return p;
            throw new IllegalArgumentException("-Dkiln.cuda.precision=" + label + ": expected fp32, tf32 or bf16");
        }
    }

    /// `fastMath`: f32 `exp`/`log`/`tanh` with the hardware approximations (`ex2.approx.ftz.f32`,
    /// `lg2.approx.ftz.f32`, `tanh.approx.f32`: relative errors about 2^-21 growing with |x|
    /// for exp, 2^-22 absolute for log, 2^-11 for tanh) instead of the f64 routines of `PtxMath`.
    /// `precision`: see `Precision`. `convLoops`: f32 convolutions as the direct loop nests of
    /// `ConvLoops` instead of implicit GEMMs (the older path, kept as a fallback). `scalarLoads`:
    /// elementwise kernels without their 4-wide vector loads and stores (see `vectorizable`), the
    /// older path. `-Dkiln.cuda.precision=tf32|bf16`, `-Dkiln.cuda.conv=loops` and
    /// `-Dkiln.cuda.vectorize=false` set the last three for a whole process (`withSystemProperties`).
    public record Options(boolean fastMath, Precision precision, boolean convLoops, boolean scalarLoads) {
        public static final Options DEFAULT = new Options(false, Precision.FP32, false, false);

        public Options withFastMath() { return new Options(true, precision, convLoops, scalarLoads); }

        public Options withPrecision(Precision p) { return new Options(fastMath, p, convLoops, scalarLoads); }

        public Options withConvLoops() { return new Options(fastMath, precision, true, scalarLoads); }

        public Options withScalarLoads() { return new Options(fastMath, precision, convLoops, true); }

        /// These options with `kiln.cuda.precision` (`fp32` | `tf32` | `bf16`), `kiln.cuda.conv`
        /// (`gemm` | `loops`) and `kiln.cuda.vectorize` (`true` | `false`) applied where set; an
        /// unknown value is an IllegalArgumentException naming it.
        public Options withSystemProperties() {
            String precision = System.getProperty("kiln.cuda.precision"), conv = property("kiln.cuda.conv", "gemm", "loops"),
                    vectorize = property("kiln.cuda.vectorize", "true", "false");
            return new Options(fastMath, precision == null ? this.precision : Precision.of(precision), convLoops || conv.equals("loops"),
                    scalarLoads || vectorize.equals("false"));
        }

        private static String property(String name, String byDefault, String other) {
            String v = System.getProperty(name, byDefault);
            if (!v.equals(byDefault) && !v.equals(other))
                throw new IllegalArgumentException("-D" + name + "=" + v + ": expected " + byDefault + " or " + other);
            return v;
        }
    }

    static final int BLOCK = 256;
    static final int MAX_THREAD_GRID = 8192, MAX_BLOCK_GRID = 16384;
    /// Symbols are estimated at this size when choosing a mapping (a batch, usually).
    static final int SYMBOL_GUESS = 64, SYMBOL_GUESS_REDUCED = 1024;

    private final KernelProgram program;
    private final Options options;
    private final StringBuilder module = new StringBuilder();
    private final List<Launch> launches = new ArrayList<>();
    private final java.util.Set<String> libraryEntries = new HashSet<>();

    private PtxGen(KernelProgram program, Options options) {
        this.program = program;
        this.options = options;
    }

    public static PtxProgram generate(KernelProgram p) { return generate(p, Options.DEFAULT); }

    public static PtxProgram generate(KernelProgram p, Options options) {
        return new PtxGen(p, options.withSystemProperties()).run();
    }

    private PtxProgram run() {
        module.append("//\n// Generated by Kiln for graph @").append(program.name()).append("\n//\n")
                .append(".version 8.0\n.target sm_80\n.address_size 64\n");
        for (int k = 0; k < program.kernels().size(); k++) {
            Kernel kernel = program.kernels().get(k);
            for (int j = 0; j < kernel.body().size(); j++) {
                String name = kernel.name() + "_" + j;
                switch (kernel.body().get(j)) {
                    case Loop l -> loopEntry(name, l, k, kernel.source());
                    case Call c -> {
                        boolean fused = call(name, c.call(), c.epilogue(), k, kernel.source());
                        if (c.epilogue() != null && !fused) loopEntry(name + "_epilogue", c.epilogue(), k, kernel.source());
                    }
                    default -> throw new IllegalStateException("kernel " + kernel.name() + ": top-level statement is not a loop or call");
                }
            }
        }
        return new PtxProgram(program, module.toString(), launches);
    }

    private DType dtype(int buffer) { return program.buffers().get(buffer).dtype(); }

    // ---- library calls -------------------------------------------------------------------

    /// Emits library call `c`; returns whether its epilogue (if any) was fused into it.
    private boolean call(String name, LibCall c, Loop epilogue, int kernel, String source) {
        switch (c) {
            case Gemm g -> {
                if (g.dtype() != DType.F32)
                    throw new UnsupportedOperationException("kernel " + name + ": gemm on " + g.dtype() + " has no CUDA kernel (only f32)");
                String entry = Sgemm.name(g.transA(), g.transB(), options.precision());
                if (libraryEntries.add(entry)) module.append('\n').append(Sgemm.entry(g.transA(), g.transB(), options.precision()));
                launches.add(new Launch(entry, List.of(new Launch.Buf(g.out()), new Launch.Buf(g.a()), new Launch.Buf(g.b()),
                        new Launch.Int(g.batch()), new Launch.Int(g.m()), new Launch.Int(g.n()), new Launch.Int(g.k())),
                        ceilDiv(g.n(), Sgemm.TILE), ceilDiv(g.m(), Sgemm.TILE), min(g.batch(), 65535), Sgemm.THREADS, kernel,
                        "sgemm" + modeSuffix()));
            }
            case Conv cv when dtype(cv.x()) == DType.F32 && !options.convLoops() -> {
                ConvGemm g = ConvGemm.of(cv, DType.F32);
                Epilogue e = g.splitK() || epilogue == null ? null : Epilogue.of(epilogue, g.out());
                convGemm(name, g, e, kernel, source);
                return e != null;
            }
            case Conv cv -> loopEntry(name, ConvLoops.of(cv, dtype(cv.x())), kernel, source);
        }
        return false;
    }

    /// An elementwise epilogue folded into the store of the call it follows: a nest of output
    /// loops over the call's result whose only statement stores `value` at the row-major index
    /// of the loop variables, reading the result only at that element (as the local `ACC`).
    record Epilogue(Plan plan, Expr value) {
        static final String ACC = "epilogue_acc";

        static Epilogue of(Loop l, int out) {
            Plan p = PtxGen.plan(l);
            if (p.blocks() || p.rest().size() != 1 || !(p.rest().getFirst() instanceof Store st) || st.buffer() != out) return null;
            if (!st.index().equals(linear(p.chain()))) return null;
            Expr v = replaceLoad(st.value(), out, st.index(), new Local(ACC, DType.F32));
            LinkedHashSet<Integer> bufs = new LinkedHashSet<>();
            Kir.loads(v, bufs);
            for (List<Let> lets : p.chainLets()) for (Let let : lets) Kir.loads(let.value(), bufs);
            return bufs.contains(out) ? null : new Epilogue(p, v);
        }
    }

    /// `e` with every `Load(buffer, index)` replaced by `with`.
    static Expr replaceLoad(Expr e, int buffer, Expr index, Expr with) {
        return switch (e) {
            case Load l when l.buffer() == buffer && l.index().equals(index) -> l.type() == with.type() ? with : new Convert(with, l.type());
            case Load l -> l;
            case Un u -> new Un(u.op(), replaceLoad(u.x(), buffer, index, with), u.type());
            case Bin b -> new Bin(b.op(), replaceLoad(b.a(), buffer, index, with), replaceLoad(b.b(), buffer, index, with), b.type());
            case Sel s -> new Sel(replaceLoad(s.cond(), buffer, index, with), replaceLoad(s.onTrue(), buffer, index, with),
                    replaceLoad(s.onFalse(), buffer, index, with), s.type(), s.lazy());
            case Convert c -> new Convert(replaceLoad(c.x(), buffer, index, with), c.type());
            case Rand r -> new Rand(replaceLoad(r.seed(), buffer, index, with), replaceLoad(r.index(), buffer, index, with), r.type());
            case IntConst _, FloatConst _, Sym _, Local _ -> e;
        };
    }

    /// Most blocks a split-K implicit GEMM aims for (about 8 per SM of an H100), and the fewest
    /// K steps a split gets.
    static final int SPLIT_BLOCKS = 1024, SPLIT_MIN_K = 256;

    /// A convolution as a tiled implicit GEMM (see `ConvGemm`), after a zeroing pass when its K
    /// range is split across blocks, with `epilogue` (or null) applied as each element is
    /// stored. Parameters: the buffers and symbols its expressions read, then groups, m, n, k
    /// (and splits).
    private void convGemm(String name, ConvGemm g, Epilogue epilogue, int kernel, String source) {
        Expr splits = null;
        if (g.splitK()) {
            Expr numel = program.buffers().get(g.out()).numel();
            loopEntry(name + "_zero", new Loop("z", numel, List.of(new Store(g.out(), new Local("z", DType.I32), new FloatConst(0, DType.F32)))),
                    kernel, source);
            long tiles = (estimate(g.m(), 1) + Sgemm.TILE - 1) / Sgemm.TILE * ((estimate(g.n(), 1) + Sgemm.TILE - 1) / Sgemm.TILE);
            int most = (int) Math.max(1, Math.min(256, SPLIT_BLOCKS / (tiles * g.groups())));
            splits = min(ceilDiv(g.k(), SPLIT_MIN_K), most);
        }
        LinkedHashSet<Integer> bufs = new LinkedHashSet<>(List.of(g.out()));
        LinkedHashSet<String> syms = new LinkedHashSet<>();
        for (Expr e : List.of(g.a(), g.b(), g.outIndex(), g.m(), g.n(), g.k())) Kir.uses(e, bufs, syms);
        if (epilogue != null) {
            Kir.uses(epilogue.value(), bufs, syms);
            for (Loop l : epilogue.plan().chain()) Kir.uses(l.extent(), bufs, syms);
            for (List<Let> lets : epilogue.plan().chainLets()) for (Let l : lets) Kir.uses(l.value(), bufs, syms);
        }
        List<Arg> args = new ArrayList<>();
        Body body = open(name, source, bufs, syms, args);
        EntryWriter w = body.w;
        List<Expr> sizes = new ArrayList<>(List.of(i32(g.groups()), g.m(), g.n(), g.k()));
        if (splits != null) sizes.add(splits);
        String[] regs = new String[sizes.size()];
        String[] names = {"groups", "m", "n", "k", "splits"};
        for (int i = 0; i < regs.length; i++) {
            regs[i] = w.reg(RegClass.B32);
            w.op("ld.param.s32 " + regs[i] + ", [" + w.param("s32", names[i]) + "];");
            args.add(new Launch.Int(sizes.get(i)));
        }
        boolean add = g.splitK();
        Sgemm.tiles(w, regs[0], regs[1], regs[2], regs[3], add ? regs[4] : null, g.aAlongK(), g.bAlongK(), options.precision(), new Sgemm.Operands() {
            public void batch(String z) { body.mov(body.local(ConvGemm.Z, DType.I32), z, DType.I32); }

            public String a(String row, String k, String ok) { return body.guarded(ok, ConvGemm.M, row, ConvGemm.K, k, g.a()); }

            public String b(String k, String col, String ok) { return body.guarded(ok, ConvGemm.K, k, ConvGemm.N, col, g.b()); }

            public void store(String row, String col, String value, String ok) {
                String skip = w.label("out");
                w.op("@!" + ok + " bra " + skip + ";");
                body.mov(body.local(ConvGemm.M, DType.I32), row, DType.I32);
                body.mov(body.local(ConvGemm.N, DType.I32), col, DType.I32);
                String v = value;
                if (epilogue != null) { // the element's loop variables from its flat index, then its value
                    String flat = body.expr(g.outIndex());
                    body.enterChain(epilogue.plan(), flat);
                    body.mov(body.local(Epilogue.ACC, DType.F32), value, DType.F32);
                    v = body.convert(body.expr(epilogue.value()), epilogue.value().type(), DType.F32);
                }
                String addr = body.address(g.out(), g.outIndex());
                w.op((add ? "red.global.add.f32 [" : "st.global.f32 [") + addr + "], " + v + ";");
                w.place(skip);
            }
        });
        module.append('\n').append(w.text());
        Expr z = i32(g.groups());
        if (splits != null) z = new Bin(BinOp.MUL, z, splits, DType.I32);
        launches.add(new Launch(name, args, ceilDiv(g.n(), Sgemm.TILE), ceilDiv(g.m(), Sgemm.TILE), min(z, 65535), Sgemm.THREADS, kernel,
                "implicit-gemm" + modeSuffix() + (add ? " split-k" : "") + (epilogue != null ? " +epilogue" : "")));
    }

    /// How a GEMM launch's mode names a tensor-core precision: `-tf32`, `-bf16`, or nothing.
    private String modeSuffix() { return options.precision() == Precision.FP32 ? "" : "-" + options.precision().label(); }

    // ---- size expressions ----------------------------------------------------------------

    static Expr i32(long v) { return new IntConst(v, DType.I32); }

    static Expr ceilDiv(Expr a, int b) {
        return new Bin(BinOp.DIV, new Bin(BinOp.ADD, a, i32(b - 1), DType.I32), i32(b), DType.I32);
    }

    static Expr min(Expr a, int b) { return new Bin(BinOp.MIN, a, i32(b), DType.I32); }

    static Expr product(List<Expr> xs) {
        Expr p = null;
        for (Expr x : xs) p = p == null ? x : new Bin(BinOp.MUL, p, x, DType.I32);
        return p == null ? i32(1) : p;
    }

    /// An estimate of a size expression, or -1 when it is not one (it reads a local).
    static long estimate(Expr e, int symbol) {
        try {
            return Kir.eval(e, s -> symbol);
        } catch (IllegalArgumentException notASize) {
            return -1;
        }
    }

    // ---- structure of a loop nest --------------------------------------------------------

    static boolean hasStore(Stmt s) {
        return switch (s) {
            case Store _ -> true;
            case Loop l -> l.body().stream().anyMatch(PtxGen::hasStore);
            default -> false;
        };
    }

    static void names(Stmt s, java.util.Set<String> declared, java.util.Set<String> assigned) {
        switch (s) {
            case Loop l -> { declared.add(l.var()); for (Stmt b : l.body()) names(b, declared, assigned); }
            case Let l -> declared.add(l.name());
            case Set l -> assigned.add(l.name());
            default -> {}
        }
    }

    /// An output loop: it stores, and assigns no local declared outside it.
    static boolean isParallel(Loop l) {
        java.util.Set<String> declared = new HashSet<>(), assigned = new HashSet<>();
        names(l, declared, assigned);
        return hasStore(l) && declared.containsAll(assigned);
    }

    /// A loop extent that does not vary inside the nest (sizes and symbols only).
    static boolean invariant(Expr e) { return estimate(e, 1) >= 0; }

    /// A perfect nest of reduction loops: each body is `let`s and one inner loop, the innermost
    /// is `let`s and `set`s; `lets.get(k)` are the lets inside loop k before loop k+1.
    record Nest(List<Loop> loops, List<List<Let>> lets, List<Stmt> inner) {}

    static Nest nest(Loop l) {
        List<Loop> loops = new ArrayList<>(List.of(l));
        List<List<Let>> lets = new ArrayList<>();
        Loop cur = l;
        while (true) {
            if (!invariant(cur.extent())) return null;
            List<Stmt> body = cur.body();
            List<Let> here = new ArrayList<>();
            int i = 0;
            while (i < body.size() && body.get(i) instanceof Let let) { here.add(let); i++; }
            if (i == body.size() - 1 && body.get(i) instanceof Loop next) {
                lets.add(here);
                loops.add(next);
                cur = next;
                continue;
            }
            for (Stmt s : body) if (!(s instanceof Let || s instanceof Set)) return null;
            lets.add(List.of());
            return new Nest(loops, lets, body);
        }
    }

    /// How a top-level loop runs: the flattened output loops, the `let`s inside each of them,
    /// what is left inside the innermost one, and whether a block handles each element.
    record Plan(List<Loop> chain, List<List<Let>> chainLets, List<Stmt> rest, boolean blocks) {}

    static Plan plan(Loop top) {
        List<Loop> chain = new ArrayList<>(List.of(top));
        List<List<Let>> lets = new ArrayList<>();
        Loop cur = top;
        while (true) {
            List<Stmt> body = cur.body();
            List<Let> here = new ArrayList<>();
            int i = 0;
            while (i < body.size() && body.get(i) instanceof Let let) { here.add(let); i++; }
            if (i == body.size() - 1 && body.get(i) instanceof Loop next && isParallel(next) && invariant(next.extent())) {
                lets.add(here);
                chain.add(next);
                cur = next;
                continue;
            }
            lets.add(List.of());
            List<Stmt> rest = body;
            return new Plan(chain, lets, rest, useBlocks(chain, rest));
        }
    }

    /// Block mode pays when the work inside each element holds a reduction of at least 128
    /// terms, and either there are few elements or the reduction is long (estimates: symbols
    /// in the flattened loops at 64, symbols in reductions at 1024). Every statement inside
    /// must have a block form: lets, stores, output loops, and reduction nests whose
    /// accumulators start at the identity of a sum, max or min.
    static boolean useBlocks(List<Loop> chain, List<Stmt> rest) {
        long p = estimate(product(chain.stream().map(Loop::extent).toList()), SYMBOL_GUESS);
        long longest = 0;
        Map<String, Let> lets = new HashMap<>();
        for (Stmt s : rest) {
            switch (s) {
                case Let l -> lets.put(l.name(), l);
                case Store _ -> {}
                case Loop l when isParallel(l) -> {}
                case Loop l -> {
                    Nest n = nest(l);
                    if (n == null || reductions(n, lets) == null) return false;
                    long t = estimate(product(n.loops().stream().map(Loop::extent).toList()), SYMBOL_GUESS_REDUCED);
                    if (t < 0) return false;
                    longest = Math.max(longest, t);
                }
                default -> { return false; }
            }
        }
        return p >= 0 && longest >= 128 && (p <= 32768 || longest >= 2048);
    }

    /// The accumulators of a reduction nest and how each combines (ADD, MAX or MIN), or null
    /// when some `set` is not `acc = op(acc, e)` with `e` free of accumulators and `acc`
    /// declared before at the identity of `op`.
    static Map<String, BinOp> reductions(Nest n, Map<String, Let> before) {
        Map<String, BinOp> out = new java.util.LinkedHashMap<>();
        for (Stmt s : n.inner()) if (s instanceof Set set) out.put(set.name(), null);
        for (Stmt s : n.inner()) {
            if (!(s instanceof Set set)) continue;
            if (!(set.value() instanceof Bin(BinOp op, Local(String acc, DType t), Expr e, DType bt))
                    || !acc.equals(set.name()) || (op != BinOp.ADD && op != BinOp.MAX && op != BinOp.MIN) || t != bt)
                return null;
            Let decl = before.get(acc);
            if (decl == null || decl.value().type() != t || !isIdentity(decl.value(), op) || readsAny(e, out.keySet())) return null;
            if (out.get(acc) != null) return null; // one set per accumulator
            out.put(acc, op);
        }
        for (Stmt s : n.inner()) if (s instanceof Let l && readsAny(l.value(), out.keySet())) return null;
        return out.isEmpty() ? null : out;
    }

    static boolean isIdentity(Expr init, BinOp op) {
        return switch (init) {
            case FloatConst(double v, DType _) -> op == BinOp.ADD ? v == 0 : op == BinOp.MAX ? v == Double.NEGATIVE_INFINITY : v == Double.POSITIVE_INFINITY;
            case IntConst(long v, DType t) when t == DType.I64 -> op == BinOp.ADD ? v == 0 : op == BinOp.MAX ? v == Long.MIN_VALUE : v == Long.MAX_VALUE;
            case IntConst(long v, DType t) when t == DType.I32 -> op == BinOp.ADD ? v == 0 : op == BinOp.MAX ? v == Integer.MIN_VALUE : v == Integer.MAX_VALUE;
            default -> false;
        };
    }

    static boolean readsAny(Expr e, java.util.Set<String> names) {
        return !java.util.Collections.disjoint(Kir.locals(e), names);
    }

    // ---- one loop-nest entry -------------------------------------------------------------

    private void loopEntry(String name, Loop top, int kernel, String source) {
        Plan plan = plan(top);
        LinkedHashSet<Integer> bufs = new LinkedHashSet<>();
        LinkedHashSet<String> syms = new LinkedHashSet<>();
        scan(top, bufs, syms);
        List<Arg> args = new ArrayList<>();
        Body b = open(name, source, bufs, syms, args);
        Expr total = product(plan.chain().stream().map(Loop::extent).toList());
        Vector v = plan.blocks() || options.scalarLoads() ? null : vectorizable(plan);
        if (plan.blocks()) b.blockMode(plan);
        else if (v != null) b.vectorMode(plan, v);
        else b.threadMode(plan);
        module.append('\n').append(b.w.text());
        Expr grid = plan.blocks() ? min(total, MAX_BLOCK_GRID) : min(ceilDiv(total, v != null ? 4 * BLOCK : BLOCK), MAX_THREAD_GRID);
        launches.add(new Launch(name, args, grid, i32(1), i32(1), BLOCK, kernel, plan.blocks() ? "block" : v != null ? "thread v4" : "thread"));
    }

    /// The row-major index of the chain's loop variables: `((v0*e1 + v1)*e2 + v2)...`, the form
    /// `Lower` writes for an element of a dense tensor.
    static Expr linear(List<Loop> chain) {
        Expr linear = null;
        for (Loop c : chain)
            linear = linear == null ? new Local(c.var(), DType.I32)
                    : new Bin(BinOp.ADD, new Bin(BinOp.MUL, linear, c.extent(), DType.I32), new Local(c.var(), DType.I32), DType.I32);
        return linear;
    }

    /// The buffers an elementwise kernel reads and writes 4 elements at a time.
    record Vector(Expr index, List<Integer> loads, List<Integer> stores) {}

    /// Smallest estimated element count worth the 4-wide form (its code is four bodies long).
    static final int VECTOR_MIN = 1024;

    /// A thread-mode nest whose work per element is `let`s and stores to f32 buffers at the
    /// element's own row-major index, reading the stored buffers only there: then element
    /// groups of 4 (16 bytes) can be loaded with `ld.global.v4.f32` from every f32 buffer read
    /// at that index and stored with `st.global.v4.f32` (lanes computed one after another, so
    /// each lane still reads before any store). Null when the nest is not of that form.
    Vector vectorizable(Plan plan) {
        if (estimate(product(plan.chain().stream().map(Loop::extent).toList()), SYMBOL_GUESS) < VECTOR_MIN) return null;
        Expr index = linear(plan.chain());
        LinkedHashSet<Integer> loads = new LinkedHashSet<>(), stores = new LinkedHashSet<>();
        List<Expr> reads = new ArrayList<>();
        for (List<Let> lets : plan.chainLets()) for (Let l : lets) reads.add(l.value());
        for (Stmt st : plan.rest()) {
            switch (st) {
                case Let l -> reads.add(l.value());
                case Store x when x.index().equals(index) && dtype(x.buffer()) == DType.F32 -> { stores.add(x.buffer()); reads.add(x.value()); }
                default -> { return null; }
            }
        }
        List<Load> all = new ArrayList<>();
        for (Expr e : reads) loads(e, all);
        for (Load l : all) {
            boolean here = l.index().equals(index);
            if (stores.contains(l.buffer()) && !here) return null;
            if (here && dtype(l.buffer()) == DType.F32) loads.add(l.buffer());
        }
        return stores.isEmpty() ? null : new Vector(index, List.copyOf(loads), List.copyOf(stores));
    }

    static void loads(Expr e, List<Load> out) {
        Kir.forEach(e, x -> { if (x instanceof Load l) out.add(l); });
    }

    /// A new entry whose parameters are the global addresses of `bufs`, then the values of
    /// `syms` (each added to `args`), loaded into the body's registers.
    private Body open(String name, String source, LinkedHashSet<Integer> bufs, LinkedHashSet<String> syms, List<Arg> args) {
        Body b = new Body(new EntryWriter(name));
        if (!source.isEmpty() && !source.equals("unknown")) b.w.comment(source);
        for (int id : bufs) {
            String p = b.w.param("u64", "b" + id), raw = b.w.reg(RegClass.B64), base = b.w.reg(RegClass.B64);
            b.w.op("ld.param.u64 " + raw + ", [" + p + "];");
            b.w.op("cvta.to.global.u64 " + base + ", " + raw + ";");
            b.bases.put(id, base);
            args.add(new Launch.Buf(id));
        }
        for (String s : syms) {
            String p = b.w.param("s32", "sym_" + s), r = b.w.reg(RegClass.B32);
            b.w.op("ld.param.s32 " + r + ", [" + p + "];");
            b.syms.put(s, r);
            args.add(new Launch.Int(new Sym(s)));
        }
        return b;
    }

    static void scan(Stmt s, LinkedHashSet<Integer> bufs, LinkedHashSet<String> syms) {
        switch (s) {
            case Loop l -> { Kir.uses(l.extent(), bufs, syms); for (Stmt b : l.body()) scan(b, bufs, syms); }
            case Let l -> Kir.uses(l.value(), bufs, syms);
            case Set l -> Kir.uses(l.value(), bufs, syms);
            case Store st -> { bufs.add(st.buffer()); Kir.uses(st.index(), bufs, syms); Kir.uses(st.value(), bufs, syms); }
            case Call c -> throw new IllegalStateException("a call inside a loop nest");
        }
    }

    /// A local's register and type.
    private record Var(String reg, DType type) {}

    /// The statements and expressions of one entry.
    private final class Body {
        final EntryWriter w;
        final Map<Integer, String> bases = new HashMap<>();
        final Map<String, String> syms = new HashMap<>();
        final Map<String, Var> locals = new HashMap<>();
        String tid, ntid;

        /// While a vector group is emitted: the lane's value of each buffer read at `laneIndex`.
        Map<Integer, String> laneLoads;
        Expr laneIndex;

        Body(EntryWriter w) { this.w = w; }

        String special(String sreg) {
            String r = w.reg(RegClass.B32);
            w.op("mov.u32 " + r + ", " + sreg + ";");
            return r;
        }

        /// The product of the chain's extents, as an i32 register.
        String total(Plan plan) {
            String t = null;
            for (Loop l : plan.chain()) {
                String e = expr(l.extent());
                if (t == null) t = e;
                else {
                    String m = w.reg(RegClass.B32);
                    w.op("mul.lo.s32 " + m + ", " + t + ", " + e + ";");
                    t = m;
                }
            }
            return t;
        }

        /// Binds the chain's loop variables from a flat index, then runs the chain's lets.
        void enterChain(Plan plan, String flat) {
            List<Loop> chain = plan.chain();
            String rest = flat;
            for (int k = chain.size() - 1; k >= 0; k--) {
                Loop l = chain.get(k);
                String v = local(l.var(), DType.I32);
                if (k == 0) w.op("mov.u32 " + v + ", " + rest + ";");
                else {
                    String e = expr(l.extent()), q = w.reg(RegClass.B32);
                    w.op("rem.u32 " + v + ", " + rest + ", " + e + ";");
                    w.op("div.u32 " + q + ", " + rest + ", " + e + ";");
                    rest = q;
                }
            }
            for (List<Let> lets : plan.chainLets()) for (Let l : lets) stmt(l);
        }

        void threadMode(Plan plan) {
            String total = total(plan);
            String f = w.reg(RegClass.B32), stride = w.reg(RegClass.B32), p = w.reg(RegClass.PRED);
            String ctaid = special("%ctaid.x"), nt = special("%ntid.x"), t = special("%tid.x"), nc = special("%nctaid.x");
            w.op("mad.lo.s32 " + f + ", " + ctaid + ", " + nt + ", " + t + ";");
            w.op("mul.lo.s32 " + stride + ", " + nc + ", " + nt + ";");
            elements(plan, f, total, stride, p);
            w.op("ret;");
        }

        /// The grid-stride loop over elements `f, f + stride, ...` below `total`, one by one.
        void elements(Plan plan, String f, String total, String stride, String p) {
            String loop = w.label("elem"), done = w.label("done");
            w.op("setp.ge.u32 " + p + ", " + f + ", " + total + ";");
            w.op("@" + p + " bra " + done + ";");
            w.place(loop);
            enterChain(plan, f);
            for (Stmt s : plan.rest()) stmt(s);
            w.op("add.s32 " + f + ", " + f + ", " + stride + ";");
            w.op("setp.lt.u32 " + p + ", " + f + ", " + total + ";");
            w.op("@" + p + " bra " + loop + ";");
            w.place(done);
        }

        /// Thread mode over groups of 4 consecutive elements (see `vectorizable`): one 16-byte
        /// load per buffer read at the element's index, the four lanes' statements, one 16-byte
        /// store per buffer written; then the last `total % 4` elements one by one. If a buffer
        /// is not 16-byte aligned, every element takes the one-by-one path.
        void vectorMode(Plan plan, Vector v) {
            String total = total(plan), groups = w.reg(RegClass.B32), p = w.reg(RegClass.PRED);
            w.op("shr.u32 " + groups + ", " + total + ", 2;");
            String bits = w.reg(RegClass.B64);
            w.op("mov.b64 " + bits + ", 0;");
            for (int id : new LinkedHashSet<>(concat(v.loads(), v.stores()))) w.op("or.b64 " + bits + ", " + bits + ", " + bases.get(id) + ";");
            w.op("and.b64 " + bits + ", " + bits + ", 15;");
            w.op("setp.ne.u64 " + p + ", " + bits + ", 0;");
            w.op("@" + p + " mov.u32 " + groups + ", 0;");
            String first = w.reg(RegClass.B32), g = w.reg(RegClass.B32), stride = w.reg(RegClass.B32);
            String ctaid = special("%ctaid.x"), nt = special("%ntid.x"), t = special("%tid.x"), nc = special("%nctaid.x");
            w.op("mad.lo.s32 " + first + ", " + ctaid + ", " + nt + ", " + t + ";");
            w.op("mul.lo.s32 " + stride + ", " + nc + ", " + nt + ";");
            w.op("mov.u32 " + g + ", " + first + ";");
            String loop = w.label("group"), tail = w.label("tail");
            w.op("setp.ge.u32 " + p + ", " + g + ", " + groups + ";");
            w.op("@" + p + " bra " + tail + ";");
            w.place(loop);
            String flat0 = w.reg(RegClass.B32), off = w.reg(RegClass.B64);
            w.op("shl.b32 " + flat0 + ", " + g + ", 2;");
            w.op("mul.wide.u32 " + off + ", " + flat0 + ", 4;");
            Map<Integer, String> addr = new HashMap<>();
            for (int id : new LinkedHashSet<>(concat(v.loads(), v.stores()))) {
                String a = w.reg(RegClass.B64);
                w.op("add.s64 " + a + ", " + bases.get(id) + ", " + off + ";");
                addr.put(id, a);
            }
            Map<Integer, String[]> in = new HashMap<>(), out = new HashMap<>();
            for (int id : v.loads()) {
                String[] r = {w.reg(RegClass.F32), w.reg(RegClass.F32), w.reg(RegClass.F32), w.reg(RegClass.F32)};
                w.op("ld.global.v4.f32 {" + String.join(", ", r) + "}, [" + addr.get(id) + "];");
                in.put(id, r);
            }
            for (int id : v.stores()) out.put(id, new String[4]);
            laneIndex = v.index();
            for (int lane = 0; lane < 4; lane++) {
                String flat = w.reg(RegClass.B32);
                w.op("add.s32 " + flat + ", " + flat0 + ", " + lane + ";");
                laneLoads = new HashMap<>();
                for (int id : v.loads()) laneLoads.put(id, in.get(id)[lane]);
                enterChain(plan, flat);
                for (Stmt s : plan.rest()) {
                    if (s instanceof Store st) {
                        String r = w.reg(RegClass.F32); // a copy: the value may be a local the next lane reassigns
                        w.op("mov.f32 " + r + ", " + convert(expr(st.value()), st.value().type(), DType.F32) + ";");
                        out.get(st.buffer())[lane] = r;
                    } else stmt(s);
                }
            }
            laneLoads = null;
            for (int id : v.stores()) w.op("st.global.v4.f32 [" + addr.get(id) + "], {" + String.join(", ", out.get(id)) + "};");
            w.op("add.s32 " + g + ", " + g + ", " + stride + ";");
            w.op("setp.lt.u32 " + p + ", " + g + ", " + groups + ";");
            w.op("@" + p + " bra " + loop + ";");
            w.place(tail);
            String f = w.reg(RegClass.B32);
            w.op("shl.b32 " + f + ", " + groups + ", 2;");
            w.op("add.s32 " + f + ", " + f + ", " + first + ";");
            elements(plan, f, total, stride, p);
            w.op("ret;");
        }

        static List<Integer> concat(List<Integer> a, List<Integer> b) {
            List<Integer> c = new ArrayList<>(a);
            c.addAll(b);
            return c;
        }

        void blockMode(Plan plan) {
            String total = total(plan);
            String g = w.reg(RegClass.B32), p = w.reg(RegClass.PRED);
            w.op("mov.u32 " + g + ", %ctaid.x;");
            String nc = special("%nctaid.x");
            tid = special("%tid.x");
            ntid = special("%ntid.x");
            String loop = w.label("row"), done = w.label("done");
            w.op("setp.ge.u32 " + p + ", " + g + ", " + total + ";");
            w.op("@" + p + " bra " + done + ";");
            w.place(loop);
            enterChain(plan, g);
            Map<String, Let> lets = new HashMap<>();
            for (Stmt s : plan.rest()) {
                switch (s) {
                    case Let l -> { lets.put(l.name(), l); stmt(l); }
                    case Store st -> {
                        String skip = w.label("one"), q = w.reg(RegClass.PRED);
                        w.op("setp.ne.u32 " + q + ", " + tid + ", 0;");
                        w.op("@" + q + " bra " + skip + ";");
                        stmt(st);
                        w.place(skip);
                    }
                    case Loop l when isParallel(l) -> strided(List.of(l), List.of(List.of()), l.body());
                    case Loop l -> {
                        Nest n = nest(l);
                        Map<String, BinOp> accs = reductions(n, lets);
                        strided(n.loops(), n.lets(), n.inner());
                        for (var e : accs.entrySet()) blockReduce(locals.get(e.getKey()), e.getValue());
                    }
                    default -> throw new IllegalStateException("no block form for " + s);
                }
            }
            w.op("bar.sync 0;");
            w.op("add.s32 " + g + ", " + g + ", " + nc + ";");
            w.op("setp.lt.u32 " + p + ", " + g + ", " + total + ";");
            w.op("@" + p + " bra " + loop + ";");
            w.place(done);
            w.op("ret;");
        }

        /// The flattened loops split across the block's threads (thread t takes t, t+ntid, ...).
        void strided(List<Loop> loops, List<List<Let>> lets, List<Stmt> inner) {
            String total = total(new Plan(loops, lets, inner, false));
            String j = w.reg(RegClass.B32), p = w.reg(RegClass.PRED);
            w.op("mov.u32 " + j + ", " + tid + ";");
            String loop = w.label("split"), end = w.label("split_end");
            w.op("setp.ge.u32 " + p + ", " + j + ", " + total + ";");
            w.op("@" + p + " bra " + end + ";");
            w.place(loop);
            enterChain(new Plan(loops, lets, inner, false), j);
            for (Stmt s : inner) stmt(s);
            w.op("add.s32 " + j + ", " + j + ", " + ntid + ";");
            w.op("setp.lt.u32 " + p + ", " + j + ", " + total + ";");
            w.op("@" + p + " bra " + loop + ";");
            w.place(end);
        }

        /// Combines each thread's accumulator across the block; every thread ends with the total.
        void blockReduce(Var acc, BinOp op) {
            int off = w.shared(33 * 8);
            warpReduce(acc, op);
            String lane = w.reg(RegClass.B32), warp = w.reg(RegClass.B32), base = w.reg(RegClass.B32), addr = w.reg(RegClass.B32),
                    p = w.reg(RegClass.PRED);
            w.op("and.b32 " + lane + ", " + tid + ", 31;");
            w.op("shr.u32 " + warp + ", " + tid + ", 5;");
            w.op("mov.u32 " + base + ", smem;");
            w.op("add.u32 " + base + ", " + base + ", " + off + ";");
            w.op("mad.lo.u32 " + addr + ", " + warp + ", 8, " + base + ";");
            String st = "st.shared." + (acc.type() == DType.F64 || acc.type() == DType.I64 ? "b64" : "b32");
            String ld = st.replace("st.", "ld.");
            w.op("setp.eq.u32 " + p + ", " + lane + ", 0;");
            w.op("@" + p + " " + st + " [" + addr + "], " + acc.reg() + ";");
            w.op("bar.sync 0;");
            String skip = w.label("warp0"), nw = w.reg(RegClass.B32), q = w.reg(RegClass.PRED);
            w.op("setp.ne.u32 " + q + ", " + warp + ", 0;");
            w.op("@" + q + " bra " + skip + ";");
            w.op("add.u32 " + nw + ", " + ntid + ", 31;");
            w.op("shr.u32 " + nw + ", " + nw + ", 5;");
            w.op("setp.lt.u32 " + q + ", " + lane + ", " + nw + ";");
            w.op("mad.lo.u32 " + addr + ", " + lane + ", 8, " + base + ";");
            String id = expr(identity(acc.type(), op));
            mov(acc.reg(), id, acc.type());
            w.op("@" + q + " " + ld + " " + acc.reg() + ", [" + addr + "];");
            warpReduce(acc, op);
            w.op("@" + p + " " + st + " [" + base + "+256], " + acc.reg() + ";");
            w.place(skip);
            w.op("bar.sync 0;");
            w.op(ld + " " + acc.reg() + ", [" + base + "+256];");
        }

        Expr identity(DType t, BinOp op) {
            return switch (t) {
                case F64, F32, F16, BF16 -> new FloatConst(op == BinOp.ADD ? 0 : op == BinOp.MAX ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY, t);
                case I64 -> new IntConst(op == BinOp.ADD ? 0 : op == BinOp.MAX ? Long.MIN_VALUE : Long.MAX_VALUE, t);
                case I32 -> new IntConst(op == BinOp.ADD ? 0 : op == BinOp.MAX ? Integer.MIN_VALUE : Integer.MAX_VALUE, t);
                case BOOL -> throw new IllegalStateException("bool accumulator");
            };
        }

        /// Tree reduction within each warp with `shfl.sync.down`; lane 0 ends with the total.
        void warpReduce(Var acc, BinOp op) {
            boolean wide = acc.type() == DType.F64 || acc.type() == DType.I64;
            for (int off = 16; off >= 1; off /= 2) {
                String other = w.reg(Ptx.regClass(acc.type()));
                if (wide) {
                    String lo = w.reg(RegClass.B32), hi = w.reg(RegClass.B32);
                    w.op("mov.b64 {" + lo + ", " + hi + "}, " + acc.reg() + ";");
                    w.op("shfl.sync.down.b32 " + lo + ", " + lo + ", " + off + ", 31, -1;");
                    w.op("shfl.sync.down.b32 " + hi + ", " + hi + ", " + off + ", 31, -1;");
                    w.op("mov.b64 " + other + ", {" + lo + ", " + hi + "};");
                } else w.op("shfl.sync.down.b32 " + other + ", " + acc.reg() + ", " + off + ", 31, -1;");
                String r = combine(op, acc.reg(), other, acc.type());
                mov(acc.reg(), r, acc.type());
            }
        }

        String combine(BinOp op, String a, String b, DType t) {
            return switch (op) {
                case ADD -> apply(Ptx.bin(BinOp.ADD, t), a, b, t);
                default -> t.isFloat() ? minMax(op, a, b, t) : apply(Ptx.bin(op, t), a, b, t);
            };
        }

        // ---- statements --------------------------------------------------------------------

        /// The register of local `name` with type `t`, created on first use.
        String local(String name, DType t) {
            Var v = locals.get(name);
            if (v == null || v.type() != t) {
                v = new Var(w.reg(Ptx.regClass(t)), t);
                locals.put(name, v);
            }
            return v.reg();
        }

        /// The f32 value of `e` with the i32 locals `n1`, `n2` bound to `r1`, `r2`, when `ok`; 0
        /// otherwise (then `e` is not evaluated, so it may read out of bounds).
        String guarded(String ok, String n1, String r1, String n2, String r2, Expr e) {
            String v = w.reg(RegClass.F32), skip = w.label("oob");
            w.op("mov.f32 " + v + ", 0f00000000;");
            w.op("@!" + ok + " bra " + skip + ";");
            mov(local(n1, DType.I32), r1, DType.I32);
            mov(local(n2, DType.I32), r2, DType.I32);
            w.op("mov.f32 " + v + ", " + expr(e) + ";");
            w.place(skip);
            return v;
        }

        void mov(String to, String from, DType t) {
            w.op("mov." + (t == DType.BOOL ? "pred" : switch (Ptx.regClass(t)) {
                case B32 -> "b32"; case B64 -> "b64"; case F32 -> "f32"; case F64 -> "f64"; default -> "b16";
            }) + " " + to + ", " + from + ";");
        }

        void stmt(Stmt s) {
            switch (s) {
                case Loop l -> {
                    String e = expr(l.extent());
                    String v = local(l.var(), DType.I32), p = w.reg(RegClass.PRED);
                    String head = w.label("loop"), end = w.label("end");
                    w.op("mov.u32 " + v + ", 0;");
                    w.op("setp.ge.s32 " + p + ", " + v + ", " + e + ";");
                    w.op("@" + p + " bra " + end + ";");
                    w.place(head);
                    for (Stmt b : l.body()) stmt(b);
                    w.op("add.s32 " + v + ", " + v + ", 1;");
                    w.op("setp.lt.s32 " + p + ", " + v + ", " + e + ";");
                    w.op("@" + p + " bra " + head + ";");
                    w.place(end);
                }
                case Let l -> {
                    String v = expr(l.value());
                    mov(local(l.name(), l.value().type()), v, l.value().type());
                }
                case Set l -> {
                    Var target = locals.get(l.name());
                    if (target == null) throw new IllegalStateException("set of undeclared local " + l.name());
                    mov(target.reg(), convert(expr(l.value()), l.value().type(), target.type()), target.type());
                }
                case Store st -> {
                    DType d = dtype(st.buffer());
                    String v = convert(expr(st.value()), st.value().type(), d);
                    String addr = address(st.buffer(), st.index());
                    String m = switch (d) {
                        case F16 -> { String h = w.reg(RegClass.B16); w.op("cvt.rn.f16.f32 " + h + ", " + v + ";"); yield h; }
                        case BF16 -> { String h = w.reg(RegClass.B16); w.op("cvt.rn.bf16.f32 " + h + ", " + v + ";"); yield h; }
                        case BOOL -> { String h = w.reg(RegClass.B16); w.op("selp.u16 " + h + ", 1, 0, " + v + ";"); yield h; }
                        default -> v;
                    };
                    w.op("st.global." + Ptx.mem(d) + " [" + addr + "], " + m + ";");
                }
                case Call c -> throw new IllegalStateException("a call inside a loop nest");
            }
        }

        String address(int buffer, Expr index) {
            String i = expr(index), off = w.reg(RegClass.B64), a = w.reg(RegClass.B64);
            w.op("mul.wide.s32 " + off + ", " + i + ", " + dtype(buffer).byteSize() + ";");
            w.op("add.s64 " + a + ", " + bases.get(buffer) + ", " + off + ";");
            return a;
        }

        // ---- expressions -------------------------------------------------------------------

        /// Emits `e`; returns the register holding its value (in its compute type).
        String expr(Expr e) {
            return switch (e) {
                case IntConst c -> switch (c.type()) {
                    case BOOL -> {
                        String p = w.reg(RegClass.PRED);
                        w.op("setp.ne.u32 " + p + ", " + (c.value() != 0 ? 1 : 0) + ", 0;");
                        yield p;
                    }
                    case I64 -> {
                        String r = w.reg(RegClass.B64);
                        w.op("mov.b64 " + r + ", " + PtxMath.hex(c.value()) + ";");
                        yield r;
                    }
                    default -> {
                        String r = w.reg(RegClass.B32);
                        w.op("mov.s32 " + r + ", " + (int) c.value() + ";");
                        yield r;
                    }
                };
                case FloatConst c -> {
                    String r = w.reg(Ptx.regClass(c.type()));
                    w.op("mov." + Ptx.arith(c.type()) + " " + r + ", " + Ptx.floatLit(c.value(), c.type()) + ";");
                    yield r;
                }
                case Sym s -> syms.get(s.name());
                case Local l -> {
                    Var v = locals.get(l.name());
                    if (v == null) throw new IllegalStateException("local " + l.name() + " read before its let");
                    yield convert(v.reg(), v.type(), l.type());
                }
                case Load l -> load(l);
                case Un u -> unary(u);
                case Bin b -> binary(b);
                case Sel s -> select(s);
                case Convert c -> convert(expr(c.x()), c.x().type(), c.type());
                case Rand r -> convert(PtxMath.uniform(w, convert(expr(r.seed()), r.seed().type(), DType.I64),
                        convert(expr(r.index()), r.index().type(), DType.I64)), DType.F64, r.type());
            };
        }

        String load(Load l) {
            if (laneLoads != null && laneLoads.containsKey(l.buffer()) && l.index().equals(laneIndex))
                return convert(laneLoads.get(l.buffer()), DType.F32, l.type());
            DType d = dtype(l.buffer());
            String addr = address(l.buffer(), l.index());
            String m = w.reg(Ptx.memClass(d));
            w.op("ld.global." + Ptx.mem(d) + " " + m + ", [" + addr + "];");
            String v = switch (d) {
                case BOOL -> { String p = w.reg(RegClass.PRED); w.op("setp.ne.u16 " + p + ", " + m + ", 0;"); yield p; }
                case F16 -> { String f = w.reg(RegClass.F32); w.op("cvt.f32.f16 " + f + ", " + m + ";"); yield f; }
                case BF16 -> bf16ToF32(m);
                default -> m;
            };
            return convert(v, d, l.type());
        }

        String bf16ToF32(String h) {
            String r = w.reg(RegClass.B32), f = w.reg(RegClass.F32);
            w.op("cvt.u32.u16 " + r + ", " + h + ";");
            w.op("shl.b32 " + r + ", " + r + ", 16;");
            w.op("mov.b32 " + f + ", " + r + ";");
            return f;
        }

        /// Rounds an f32 register to f16 or bf16 precision when `t` asks for it.
        String round(String f, DType t) {
            if (t == DType.F16) {
                String h = w.reg(RegClass.B16), o = w.reg(RegClass.F32);
                w.op("cvt.rn.f16.f32 " + h + ", " + f + ";");
                w.op("cvt.f32.f16 " + o + ", " + h + ";");
                return o;
            }
            if (t == DType.BF16) {
                String h = w.reg(RegClass.B16);
                w.op("cvt.rn.bf16.f32 " + h + ", " + f + ";");
                return bf16ToF32(h);
            }
            return f;
        }

        String apply(String template, String a, String b, DType resultType) {
            String d = w.reg(Ptx.regClass(resultType));
            w.op(template, d, a, b);
            return d;
        }

        String unary(Un u) {
            DType t = u.x().type();
            String x = expr(u.x());
            String tpl = Ptx.un(u.op(), t);
            if (tpl != null) {
                String r = apply(tpl, x, null, u.type());
                return u.op() == UnOp.SQRT ? round(r, u.type()) : r; // the others are exact
            }
            String s = Ptx.arith(t);
            return switch (u.op()) {
                case RELU -> {
                    String p = w.reg(RegClass.PRED);
                    w.op("setp.gtu." + s + " " + p + ", " + x + ", " + Ptx.floatLit(0, t) + ";"); // NaN stays
                    yield apply("selp." + s + " $d, $a, " + Ptx.floatLit(0, t) + ", " + p + ";", x, null, t);
                }
                case SIGN -> {
                    String gt = w.reg(RegClass.PRED), lt = w.reg(RegClass.PRED), r = w.reg(Ptx.regClass(t));
                    String one = t.isFloat() ? Ptx.floatLit(1, t) : "1", mone = t.isFloat() ? Ptx.floatLit(-1, t) : "-1";
                    String zero = t.isFloat() ? x : "0";  // floats: ±0 and NaN are their own sign
                    String z = t.isFloat() ? Ptx.floatLit(0, t) : "0";
                    w.op("setp.gt." + s + " " + gt + ", " + x + ", " + z + ";");
                    w.op("setp.lt." + s + " " + lt + ", " + x + ", " + z + ";");
                    w.op("selp." + s + " " + r + ", " + one + ", " + zero + ", " + gt + ";");
                    w.op("selp." + s + " " + r + ", " + mone + ", " + r + ", " + lt + ";");
                    yield r;
                }
                case EXP, LOG, TANH -> {
                    if (!t.isFloat()) throw new IllegalStateException(u.op() + " on " + t);
                    if (options.fastMath() && t != DType.F64) yield round(fast(u.op(), x), t);
                    String d = convert(x, t, DType.F64);
                    String r = switch (u.op()) {
                        case EXP -> PtxMath.exp(w, d);
                        case LOG -> PtxMath.log(w, d);
                        default -> PtxMath.tanh(w, d);
                    };
                    yield convert(r, DType.F64, t);
                }
                default -> throw new IllegalStateException(u.op() + " on " + t);
            };
        }

        String fast(UnOp op, String x) {
            String r = w.reg(RegClass.F32);
            switch (op) {
                case EXP -> {
                    w.op("mul.f32 " + r + ", " + x + ", " + Ptx.floatLit(PtxMath.LOG2E, DType.F32) + ";");
                    w.op("ex2.approx.ftz.f32 " + r + ", " + r + ";");
                }
                case LOG -> {
                    w.op("lg2.approx.ftz.f32 " + r + ", " + x + ";");
                    w.op("mul.f32 " + r + ", " + r + ", " + Ptx.floatLit(Math.log(2), DType.F32) + ";");
                }
                default -> w.op("tanh.approx.f32 " + r + ", " + x + ";");
            }
            return r;
        }

        String binary(Bin b) {
            DType t = b.a().type();
            String x = expr(b.a()), y = expr(b.b());
            if (t == DType.BOOL && b.op() == BinOp.EQ) {
                String r = apply("xor.pred $d, $a, $b;", x, y, DType.BOOL);
                return apply("not.pred $d, $a;", r, null, DType.BOOL);
            }
            if (t == DType.BOOL && b.op().isCompare() && b.op() != BinOp.NE) {
                x = convert(x, DType.BOOL, DType.I32);
                y = convert(y, DType.BOOL, DType.I32);
                t = DType.I32;
            }
            String tpl = Ptx.bin(b.op(), t);
            if (tpl != null) {
                String r = apply(tpl, x, y, b.type());
                return b.op().isCompare() || b.op() == BinOp.MAX || b.op() == BinOp.MIN ? r : round(r, b.type());
            }
            return switch (b.op()) {
                case DIV -> { // integers: truncating, 0 for a zero divisor
                    String s = Ptx.arith(t), z = w.reg(RegClass.PRED), q = w.reg(Ptx.regClass(t));
                    w.op("setp.eq." + s + " " + z + ", " + y + ", 0;");
                    w.op("div." + s + " " + q + ", " + x + ", " + y + ";");
                    w.op("selp." + (t == DType.I64 ? "b64" : "b32") + " " + q + ", 0, " + q + ", " + z + ";");
                    yield q;
                }
                case MAX, MIN -> minMax(b.op(), x, y, t);
                case POW -> t.isFloat() ? convert(PtxMath.pow(w, convert(x, t, DType.F64), convert(y, t, DType.F64)), DType.F64, t)
                        : intPow(x, y, t);
                default -> throw new IllegalStateException(b.op() + " on " + t);
            };
        }

        /// Java's `Math.max`/`Math.min` on floats: NaN if either is NaN, and +0 > -0.
        String minMax(BinOp op, String a, String b, DType t) {
            String s = Ptx.arith(t), bits = t == DType.F64 ? "b64" : "b32";
            RegClass ic = t == DType.F64 ? RegClass.B64 : RegClass.B32;
            String p = w.reg(RegClass.PRED), r = w.reg(Ptx.regClass(t));
            w.op("setp." + (op == BinOp.MAX ? "gt" : "lt") + "." + s + " " + p + ", " + a + ", " + b + ";");
            w.op("selp." + s + " " + r + ", " + a + ", " + b + ", " + p + ";");
            // equal values: combine the bits, so that max(-0, +0) = +0 and min(-0, +0) = -0
            String ia = w.reg(ic), ib = w.reg(ic), e = w.reg(RegClass.PRED), m = w.reg(Ptx.regClass(t));
            w.op("mov." + bits + " " + ia + ", " + a + ";");
            w.op("mov." + bits + " " + ib + ", " + b + ";");
            w.op((op == BinOp.MAX ? "and." : "or.") + bits + " " + ia + ", " + ia + ", " + ib + ";");
            w.op("mov." + bits + " " + m + ", " + ia + ";");
            w.op("setp.eq." + s + " " + e + ", " + a + ", " + b + ";");
            w.op("selp." + s + " " + r + ", " + m + ", " + r + ", " + e + ";");
            String nan = w.reg(RegClass.PRED), sum = w.reg(Ptx.regClass(t));
            w.op("setp.nan." + s + " " + nan + ", " + a + ", " + b + ";");
            w.op("add.rn." + s + " " + sum + ", " + a + ", " + b + ";");
            w.op("selp." + s + " " + r + ", " + sum + ", " + r + ", " + nan + ";");
            return r;
        }

        /// `(long) Math.pow(x, y)` on integers, by squaring (exact while it does not overflow:
        /// past 2^63 the interpreter saturates through double and this wraps).
        String intPow(String x, String y, DType t) {
            String s = Ptx.arith(t), bits = t == DType.I64 ? "b64" : "b32";
            RegClass c = Ptx.regClass(t);
            String r = w.reg(c), base = w.reg(c), e = w.reg(c), p = w.reg(RegClass.PRED), bit = w.reg(c);
            String loop = w.label("pow"), end = w.label("pow_end"), neg = w.label("pow_neg");
            w.op("mov." + bits + " " + r + ", 1;");
            w.op("mov." + bits + " " + base + ", " + x + ";");
            w.op("mov." + bits + " " + e + ", " + y + ";");
            w.op("setp.lt." + s + " " + p + ", " + e + ", 0;");
            w.op("@" + p + " bra " + neg + ";");
            w.place(loop);
            w.op("setp.eq." + s + " " + p + ", " + e + ", 0;");
            w.op("@" + p + " bra " + end + ";");
            w.op("and." + bits + " " + bit + ", " + e + ", 1;");
            w.op("setp.ne." + s + " " + p + ", " + bit + ", 0;");
            w.op("@" + p + " mul.lo." + s + " " + r + ", " + r + ", " + base + ";");
            w.op("mul.lo." + s + " " + base + ", " + base + ", " + base + ";");
            w.op("shr." + s + " " + e + ", " + e + ", 1;");
            w.op("bra " + loop + ";");
            // negative exponents: 1/x^|y| truncates to 0 unless |x| = 1; 0^-n is +inf, which
            // (long) turns into Long.MAX_VALUE (and (int) of that into -1)
            w.place(neg);
            String q = w.reg(RegClass.PRED), odd = w.reg(RegClass.PRED);
            w.op("mov." + bits + " " + r + ", 0;");
            w.op("setp.eq." + s + " " + q + ", " + x + ", 1;");
            w.op("@" + q + " mov." + bits + " " + r + ", 1;");
            w.op("and." + bits + " " + bit + ", " + e + ", 1;");
            w.op("setp.ne." + s + " " + odd + ", " + bit + ", 0;");
            w.op("setp.eq." + s + " " + q + ", " + x + ", -1;");
            w.op("@" + q + " selp." + bits + " " + r + ", -1, 1, " + odd + ";");
            w.op("setp.eq." + s + " " + q + ", " + x + ", 0;");
            w.op("@" + q + " mov." + bits + " " + r + ", " + (t == DType.I64 ? PtxMath.hex(Long.MAX_VALUE) : "-1") + ";");
            w.place(end);
            return r;
        }

        String select(Sel s) {
            String c = expr(s.cond());
            DType t = s.type();
            if (t != DType.BOOL && !reads(s.onTrue()) && !reads(s.onFalse())) {
                String a = expr(s.onTrue()), b = expr(s.onFalse());
                String bits = switch (Ptx.regClass(t)) { case B64 -> "b64"; case F32 -> "f32"; case F64 -> "f64"; default -> "b32"; };
                return apply("selp." + bits + " $d, $a, $b, " + c + ";", a, b, t);
            }
            String r = w.reg(Ptx.regClass(t)), other = w.label("else"), end = w.label("fi");
            w.op("@!" + c + " bra " + other + ";");
            mov(r, expr(s.onTrue()), t);
            w.op("bra " + end + ";");
            w.place(other);
            mov(r, expr(s.onFalse()), t);
            w.place(end);
            return r;
        }

        /// Whether evaluating `e` reads memory.
        boolean reads(Expr e) {
            return switch (e) {
                case Load _ -> true;
                case Un u -> reads(u.x());
                case Bin b -> reads(b.a()) || reads(b.b());
                case Sel s -> reads(s.cond()) || reads(s.onTrue()) || reads(s.onFalse());
                case Convert c -> reads(c.x());
                case Rand r -> reads(r.seed()) || reads(r.index());
                case IntConst _, FloatConst _, Sym _, Local _ -> false;
            };
        }

        /// Converts a register between compute types with the interpreter's rules.
        String convert(String x, DType from, DType to) {
            if (from == to) return x;
            if (to == DType.BOOL) {
                String p = w.reg(RegClass.PRED);
                String zero = from.isFloat() ? Ptx.floatLit(0, from) : "0";
                w.op("setp." + (from.isFloat() ? "neu." : "ne.") + Ptx.arith(from) + " " + p + ", " + x + ", " + zero + ";");
                return p;
            }
            if (from == DType.BOOL) {
                String one = to.isFloat() ? Ptx.floatLit(1, to) : "1", zero = to.isFloat() ? Ptx.floatLit(0, to) : "0";
                String bits = switch (Ptx.regClass(to)) { case B64 -> "b64"; case F32 -> "f32"; case F64 -> "f64"; default -> "b32"; };
                return apply("selp." + bits + " $d, " + one + ", " + zero + ", $a;", x, null, to);
            }
            RegClass fc = Ptx.regClass(from), tc = Ptx.regClass(to);
            if (from.isInteger() && to.isInteger())
                return apply(to == DType.I64 ? "cvt.s64.s32 $d, $a;" : "cvt.u32.u64 $d, $a;", x, null, to);
            if (from.isInteger()) { // to a float
                if (to == DType.F64) return apply("cvt.rn.f64." + Ptx.arith(from) + " $d, $a;", x, null, to);
                if (from == DType.I64) { // via double, as the interpreter does
                    String dd = apply("cvt.rn.f64.s64 $d, $a;", x, null, DType.F64);
                    return round(apply("cvt.rn.f32.f64 $d, $a;", dd, null, DType.F32), to);
                }
                return round(apply("cvt.rn.f32.s32 $d, $a;", x, null, DType.F32), to);
            }
            if (to.isInteger()) // truncating, saturating, NaN to 0: Java's cast
                return apply("cvt.rzi." + Ptx.arith(to) + "." + Ptx.arith(from) + " $d, $a;", x, null, to);
            if (fc == tc) return round(x, to); // among f16, bf16, f32
            if (to == DType.F64) return apply("cvt.f64.f32 $d, $a;", x, null, to);
            return round(apply("cvt.rn.f32.f64 $d, $a;", x, null, DType.F32), to);
        }
    }
}
