package dev.kiln.codegen.jvm;

import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.runtime.DType;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Type;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import static org.objectweb.asm.Opcodes.*;

/// Kernel IR to JVM bytecode: one class per kernel program, implementing `KernelSet`. Each
/// top-level statement of a kernel (a loop nest or a library call, and a call's epilogue)
/// becomes its own small static method `tN(Object[] buffers, int[] dims, int lo, int hi)`
/// running outer iterations `[lo, hi)`, so that every method stays far below HotSpot's
/// 8,000-byte JIT limit whatever the graph's size, and so that the executor can split any
/// loop across threads. `run(task, ...)` dispatches through a tableswitch, in pages of 256
/// tasks so the dispatcher stays small too.
///
/// Loops are plain counted `int` loops over primitive arrays, the shape C2 unrolls and
/// vectorizes; buffers and symbols are read into locals once per method. Four rewrites make
/// the scalar loop nests (pooling, its gradient, reductions) cheaper than C2 makes them alone:
/// - an inner loop with a small constant extent (a pooling window) is unrolled fully, its
///   counter becoming a constant in each copy;
/// - an array index is re-associated as an affine sum ordered from the outermost loop counter
///   to the innermost, constant last, so that its outer part is loop-invariant (C2 hoists it)
///   and the copies of an unrolled body share it (C2 numbers it once); int arithmetic wraps,
///   so the regrouped sum is the same int;
/// - an innermost loop that only folds a value into an accumulator (`acc = acc + e`, max, min)
///   keeps several partial accumulators, which breaks the serial dependency chain. Max and min
///   are exact in any order; only f64 and integer sums are split (an f64 sum then differs from
///   the serial one in the last bits, within the backends' tolerance; f32 sums stay serial).
///   The split depends only on the loop's extent, never on threads;
/// - float `==` and `!=` test the bits of `a - b` instead of branching on the data (a
///   comparison C2 sometimes compiles to an unpredictable branch in an unrolled window), with
///   a plain compare only when the difference is NaN.
final class BytecodeGen {
    static final String KERNEL_SET = "dev/kiln/codegen/jvm/rt/KernelSet";
    /// Task methods: (code, buffers, dims, lo, hi). `code` is the KernelSet itself, handed to a
    /// library call so it can run the call's epilogue task on each block it finishes.
    static final String TASK_DESC = "(Ldev/kiln/codegen/jvm/rt/KernelSet;[Ljava/lang/Object;[III)V";
    static final int PAGE = 256;
    static final String EPI_DESC = "Ldev/kiln/codegen/jvm/rt/KernelSet;I[Ljava/lang/Object;[III";
    static final String PAGE_DESC = "(ILdev/kiln/codegen/jvm/rt/KernelSet;[Ljava/lang/Object;[III)V";

    /// One unit of execution: a loop nest (splittable over its outer loop) or a call. An
    /// epilogue task (`inCall`) is run by its call, block by block, not by the executor.
    record Task(int kernel, Stmt stmt, boolean call, boolean inCall) {}

    private final KernelProgram program;
    private final String className;
    final List<Task> tasks = new ArrayList<>();

    BytecodeGen(KernelProgram program, String className) {
        this.program = program;
        this.className = className;
        for (int k = 0; k < program.kernels().size(); k++)
            for (Stmt s : program.kernels().get(k).body()) {
                if (s instanceof Call c) {
                    tasks.add(new Task(k, c, true, false));
                    if (c.epilogue() != null) tasks.add(new Task(k, c.epilogue(), false, true));
                } else tasks.add(new Task(k, s, false, false));
            }
    }

    byte[] generate() {
        ClassWriter cw = new ClassWriter(ClassWriter.COMPUTE_FRAMES) {
            @Override protected String getCommonSuperClass(String a, String b) { return "java/lang/Object"; }
        };
        cw.visit(V25, ACC_PUBLIC | ACC_FINAL | ACC_SUPER, className, null, "java/lang/Object", new String[]{KERNEL_SET});
        MethodVisitor init = cw.visitMethod(ACC_PUBLIC, "<init>", "()V", null, null);
        init.visitCode();
        init.visitVarInsn(ALOAD, 0);
        init.visitMethodInsn(INVOKESPECIAL, "java/lang/Object", "<init>", "()V", false);
        init.visitInsn(RETURN);
        init.visitMaxs(0, 0);
        init.visitEnd();
        for (int t = 0; t < tasks.size(); t++) new MethodGen(cw, "t" + t, tasks.get(t)).emit();
        int pages = (tasks.size() + PAGE - 1) / PAGE;
        for (int p = 0; p < pages; p++) dispatchPage(cw, p);
        MethodVisitor run = cw.visitMethod(ACC_PUBLIC, "run", "(I[Ljava/lang/Object;[III)V", null, null);
        run.visitCode();
        if (pages > 0) {
            Label[] labels = new Label[pages];
            for (int p = 0; p < pages; p++) labels[p] = new Label();
            Label bad = new Label();
            run.visitVarInsn(ILOAD, 1);
            push(run, PAGE);
            run.visitInsn(IDIV);
            run.visitTableSwitchInsn(0, pages - 1, bad, labels);
            for (int p = 0; p < pages; p++) {
                run.visitLabel(labels[p]);
                run.visitVarInsn(ILOAD, 1);
                run.visitVarInsn(ALOAD, 0);
                for (int i = 2; i <= 5; i++) run.visitVarInsn(i <= 3 ? ALOAD : ILOAD, i);
                run.visitMethodInsn(INVOKESTATIC, className, "page" + p, PAGE_DESC, false);
                run.visitInsn(RETURN);
            }
            run.visitLabel(bad);
        }
        run.visitTypeInsn(NEW, "java/lang/IllegalArgumentException");
        run.visitInsn(DUP);
        run.visitLdcInsn("no such task");
        run.visitMethodInsn(INVOKESPECIAL, "java/lang/IllegalArgumentException", "<init>", "(Ljava/lang/String;)V", false);
        run.visitInsn(ATHROW);
        run.visitMaxs(0, 0);
        run.visitEnd();
        cw.visitEnd();
        return cw.toByteArray();
    }

    private void dispatchPage(ClassWriter cw, int page) {
        MethodVisitor mv = cw.visitMethod(ACC_PRIVATE | ACC_STATIC, "page" + page, PAGE_DESC, null, null);
        mv.visitCode();
        int from = page * PAGE, to = Math.min(tasks.size(), from + PAGE);
        Label[] labels = new Label[to - from];
        for (int i = 0; i < labels.length; i++) labels[i] = new Label();
        Label bad = new Label();
        mv.visitVarInsn(ILOAD, 0);
        mv.visitTableSwitchInsn(from, to - 1, bad, labels);
        for (int t = from; t < to; t++) {
            mv.visitLabel(labels[t - from]);
            mv.visitVarInsn(ALOAD, 1);
            mv.visitVarInsn(ALOAD, 2);
            mv.visitVarInsn(ALOAD, 3);
            mv.visitVarInsn(ILOAD, 4);
            mv.visitVarInsn(ILOAD, 5);
            mv.visitMethodInsn(INVOKESTATIC, className, "t" + t, TASK_DESC, false);
            mv.visitInsn(RETURN);
        }
        mv.visitLabel(bad);
        mv.visitInsn(RETURN);
        mv.visitMaxs(0, 0);
        mv.visitEnd();
    }

    static void push(MethodVisitor mv, int v) {
        if (v >= -1 && v <= 5) mv.visitInsn(ICONST_0 + v);
        else if (v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE) mv.visitIntInsn(BIPUSH, v);
        else if (v >= Short.MIN_VALUE && v <= Short.MAX_VALUE) mv.visitIntInsn(SIPUSH, v);
        else mv.visitLdcInsn(v);
    }

    static String arrayDesc(DType d) {
        return switch (d) {
            case F32 -> "[F"; case F64 -> "[D"; case I32 -> "[I"; case I64 -> "[J"; case BOOL -> "[Z"; case F16, BF16 -> "[S";
        };
    }

    /// JVM value kind of a compute type.
    static Type jvm(DType d) {
        return switch (d) {
            case BOOL, I32 -> Type.INT_TYPE; case I64 -> Type.LONG_TYPE; case F16, BF16, F32 -> Type.FLOAT_TYPE; case F64 -> Type.DOUBLE_TYPE;
        };
    }

    /// One task method.
    private final class MethodGen {
        final MethodVisitor mv;
        final Task task;
        final Map<Integer, Integer> bufferLocals = new HashMap<>();
        final Map<String, Integer> symLocals = new HashMap<>();
        final Map<String, Integer> locals = new HashMap<>();
        final Map<String, DType> localTypes = new HashMap<>();
        /// Depth of each open loop's counter (1 = the task's outer loop), for ordering index terms.
        final Map<String, Integer> loopDepth = new HashMap<>();
        /// Counters of fully unrolled loops: the value in the copy being emitted.
        final Map<String, Integer> constCounters = new HashMap<>();
        /// Counters read with an offset: `r` stands for `r + k` in the copy being emitted.
        final Map<String, Integer> counterOffsets = new HashMap<>();
        int next = 5;

        MethodGen(ClassWriter cw, String name, Task task) {
            this.task = task;
            this.mv = cw.visitMethod(ACC_PRIVATE | ACC_STATIC, name, TASK_DESC, null, null);
        }

        int alloc(Type t) {
            int slot = next;
            next += t.getSize();
            return slot;
        }

        void emit() {
            mv.visitCode();
            LinkedHashSet<Integer> bufs = new LinkedHashSet<>();
            LinkedHashSet<String> syms = new LinkedHashSet<>();
            scan(task.stmt(), bufs, syms);
            for (int b : bufs) {
                int slot = alloc(Type.getType(Object.class));
                mv.visitVarInsn(ALOAD, 1);
                push(mv, b);
                mv.visitInsn(AALOAD);
                mv.visitTypeInsn(CHECKCAST, arrayDesc(program.buffers().get(b).dtype()));
                mv.visitVarInsn(ASTORE, slot);
                bufferLocals.put(b, slot);
            }
            for (String s : syms) {
                int slot = alloc(Type.INT_TYPE);
                mv.visitVarInsn(ALOAD, 2);
                push(mv, program.symbols().indexOf(s));
                mv.visitInsn(IALOAD);
                mv.visitVarInsn(ISTORE, slot);
                symLocals.put(s, slot);
            }
            switch (task.stmt()) {
                case Loop l -> loop(l, true);
                case Call c -> call(c.call(), c.epilogue());
                default -> throw new IllegalStateException("task is not a loop or call");
            }
            mv.visitInsn(RETURN);
            mv.visitMaxs(0, 0);
            mv.visitEnd();
        }

        // ---- statements ------------------------------------------------------------------

        void stmt(Stmt s) {
            switch (s) {
                case Loop l -> loop(l, false);
                case Let l -> {
                    Type t = jvm(l.value().type());
                    int slot = locals.computeIfAbsent(l.name(), k -> alloc(t));
                    localTypes.put(l.name(), l.value().type());
                    expr(l.value());
                    mv.visitVarInsn(t.getOpcode(ISTORE), slot);
                }
                case Set l -> {
                    Type t = jvm(localTypes.get(l.name()));
                    expr(l.value());
                    mv.visitVarInsn(t.getOpcode(ISTORE), locals.get(l.name()));
                }
                case Store st -> {
                    DType d = program.buffers().get(st.buffer()).dtype();
                    mv.visitVarInsn(ALOAD, bufferLocals.get(st.buffer()));
                    index(st.index());
                    expr(st.value());
                    switch (d) {
                        case F16 -> mv.visitMethodInsn(INVOKESTATIC, "java/lang/Float", "floatToFloat16", "(F)S", false);
                        case BF16 -> mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/runtime/NdArray", "floatToBf16", "(F)S", false);
                        default -> {}
                    }
                    mv.visitInsn(switch (d) {
                        case F32 -> FASTORE; case F64 -> DASTORE; case I32 -> IASTORE; case I64 -> LASTORE; case BOOL -> BASTORE;
                        case F16, BF16 -> SASTORE;
                    });
                }
                case Call c -> throw new IllegalStateException("nested call");
            }
        }

        /// `for (v = lo; v < hi; v++)`; a top-level loop takes its range from the arguments.
        /// An inner loop may instead be unrolled fully or split over partial accumulators.
        void loop(Loop l, boolean top) {
            // a loop inside an unrolled one was counted in that one's size
            boolean nested = !constCounters.isEmpty();
            if (!top && unrollFully(l) && (nested || unrolledSize(l) <= unrollLeft)) {
                if (!nested) unrollLeft -= unrolledSize(l);
                for (int k = 0; k < (int) ((IntConst) l.extent()).value(); k++) {
                    constCounters.put(l.var(), k);
                    for (Stmt s : l.body()) stmt(s);
                }
                constCounters.remove(l.var());
                return;
            }
            Fold fold = top ? null : fold(l);
            if (fold != null) {
                foldLoop(l, fold);
                return;
            }
            int var = locals.computeIfAbsent(l.var(), k -> alloc(Type.INT_TYPE));
            localTypes.put(l.var(), DType.I32);
            loopDepth.put(l.var(), loopDepth.size() + 1);
            int limit = alloc(Type.INT_TYPE);
            if (top) {
                mv.visitVarInsn(ILOAD, 4);
                mv.visitVarInsn(ISTORE, limit);
                mv.visitVarInsn(ILOAD, 3);
            } else {
                expr(l.extent());
                mv.visitVarInsn(ISTORE, limit);
                mv.visitInsn(ICONST_0);
            }
            mv.visitVarInsn(ISTORE, var);
            Label head = new Label(), end = new Label();
            mv.visitLabel(head);
            mv.visitVarInsn(ILOAD, var);
            mv.visitVarInsn(ILOAD, limit);
            mv.visitJumpInsn(IF_ICMPGE, end);
            for (Stmt s : l.body()) stmt(s);
            mv.visitIincInsn(var, 1);
            mv.visitJumpInsn(GOTO, head);
            mv.visitLabel(end);
            loopDepth.remove(l.var());
        }

        // ---- full unrolling ----------------------------------------------------------------

        /// Largest extent unrolled fully: pooling windows and small kernels (2x2, 3x3, 4x4).
        static final int UNROLL_EXTENT = 4;
        /// Size budget of one fully unrolled loop, in `size` units (about 4 bytes of bytecode
        /// each: a 2x2 max-pool gradient nest is about 250).
        static final int UNROLL_BUDGET = 500;
        /// Size budget of all the unrolled loops of one task method (a fused kernel may hold
        /// several), which keeps it well below HotSpot's 8,000-byte JIT limit; beyond it loops
        /// stay loops.
        static final int METHOD_UNROLL_BUDGET = 1200;
        int unrollLeft = METHOD_UNROLL_BUDGET;

        boolean unrollFully(Loop l) {
            if (!(l.extent() instanceof IntConst c) || c.value() < 1 || c.value() > UNROLL_EXTENT) return false;
            return unrolledSize(l) <= UNROLL_BUDGET;
        }

        int unrolledSize(Loop l) { return (int) ((IntConst) l.extent()).value() * size(l.body()); }

        /// Rough code size of statements as emitted (unrolled loops counted unrolled).
        int size(List<Stmt> body) {
            int n = 0;
            for (Stmt s : body) n += switch (s) {
                case Loop l -> unrollFully(l) ? unrolledSize(l) : 4 + size(l.body());
                case Let l -> 1 + size(l.value());
                case Set l -> 1 + size(l.value());
                case Store st -> 2 + size(st.index()) + size(st.value());
                case Call c -> 20;
            };
            return n;
        }

        int size(Expr e) {
            return switch (e) {
                case IntConst _, FloatConst _, Sym _, Local _ -> 1;
                case Load l -> 2 + size(l.index());
                case Un u -> 2 + size(u.x());
                case Bin b -> (b.op() == BinOp.EQ || b.op() == BinOp.NE ? 10 : 2) + size(b.a()) + size(b.b());
                case Sel s -> 8 + size(s.cond()) + size(s.onTrue()) + size(s.onFalse());
                case Convert c -> 1 + size(c.x());
                case Rand r -> 3 + size(r.seed()) + size(r.index());
            };
        }

        // ---- reductions over partial accumulators ---------------------------------------------

        /// Partial accumulators per split reduction loop.
        static final int LANES = 4;

        /// An innermost loop `for r < n { acc = acc op e }` whose fold may be regrouped.
        record Fold(String acc, BinOp op, DType type, Expr e) {}

        Fold fold(Loop l) {
            if (l.body().size() != 1 || !(l.body().getFirst() instanceof Set set)) return null;
            if (!(set.value() instanceof Bin b)) return null;
            DType t = localTypes.get(set.name());
            if (t == null || b.type() != t) return null;
            boolean exact = switch (b.op()) {
                case ADD -> t == DType.F64 || t == DType.I32 || t == DType.I64;   // f64: reassociation allowed
                case MAX, MIN -> t == DType.F64 || t == DType.F32 || t == DType.I32 || t == DType.I64;
                default -> false;
            };
            if (!exact) return null;
            Local acc = new Local(set.name(), t);
            Expr e = b.a().equals(acc) ? b.b() : b.b().equals(acc) ? b.a() : null;
            if (e == null || Kir.locals(e).contains(set.name())) return null;
            return new Fold(set.name(), b.op(), t, e);
        }


        /// ```
        /// a0..a3 = identity
        /// for (r = 0; r < n - 3; r += 4) { a0 = a0 op e(r); a1 = a1 op e(r+1); ... }
        /// for (; r < n; r++) a0 = a0 op e(r)
        /// acc = acc op ((a0 op a1) op (a2 op a3))
        /// ```
        /// The lanes start from the identity rather than from `acc`, so that when this loop is
        /// the inner one of a reduction nest (a sum over batch, rows and columns) the rows'
        /// lanes do not wait for each other: only one `op` per row depends on the last row.
        void foldLoop(Loop l, Fold f) {
            Type t = jvm(f.type());
            int accSlot = locals.get(f.acc());
            int[] lanes = new int[LANES];
            for (int j = 0; j < LANES; j++) {
                lanes[j] = alloc(t);
                identity(f.op(), t);
                mv.visitVarInsn(t.getOpcode(ISTORE), lanes[j]);
            }
            int var = locals.computeIfAbsent(l.var(), k -> alloc(Type.INT_TYPE));
            localTypes.put(l.var(), DType.I32);
            loopDepth.put(l.var(), loopDepth.size() + 1);
            int limit = alloc(Type.INT_TYPE), wideLimit = alloc(Type.INT_TYPE);
            expr(l.extent());
            mv.visitVarInsn(ISTORE, limit);
            mv.visitVarInsn(ILOAD, limit);
            push(mv, LANES - 1);
            mv.visitInsn(ISUB);
            mv.visitVarInsn(ISTORE, wideLimit);
            mv.visitInsn(ICONST_0);
            mv.visitVarInsn(ISTORE, var);
            Label wide = new Label(), wideEnd = new Label(), rest = new Label(), restEnd = new Label();
            mv.visitLabel(wide);
            mv.visitVarInsn(ILOAD, var);
            mv.visitVarInsn(ILOAD, wideLimit);
            mv.visitJumpInsn(IF_ICMPGE, wideEnd);
            for (int j = 0; j < LANES; j++) {
                counterOffsets.put(l.var(), j);
                foldInto(lanes[j], f, t);
            }
            counterOffsets.remove(l.var());
            mv.visitIincInsn(var, LANES);
            mv.visitJumpInsn(GOTO, wide);
            mv.visitLabel(wideEnd);
            mv.visitLabel(rest);
            mv.visitVarInsn(ILOAD, var);
            mv.visitVarInsn(ILOAD, limit);
            mv.visitJumpInsn(IF_ICMPGE, restEnd);
            foldInto(lanes[0], f, t);
            mv.visitIincInsn(var, 1);
            mv.visitJumpInsn(GOTO, rest);
            mv.visitLabel(restEnd);
            loopDepth.remove(l.var());
            mv.visitVarInsn(t.getOpcode(ILOAD), accSlot);
            mv.visitVarInsn(t.getOpcode(ILOAD), lanes[0]);
            mv.visitVarInsn(t.getOpcode(ILOAD), lanes[1]);
            combine(f.op(), t);
            mv.visitVarInsn(t.getOpcode(ILOAD), lanes[2]);
            mv.visitVarInsn(t.getOpcode(ILOAD), lanes[3]);
            combine(f.op(), t);
            combine(f.op(), t);
            combine(f.op(), t);
            mv.visitVarInsn(t.getOpcode(ISTORE), accSlot);
        }

        /// The value that leaves any other unchanged under `op`: -0.0 for a float sum (+0.0
        /// would turn a -0.0 into +0.0), the lowest value for max, the highest for min.
        void identity(BinOp op, Type t) {
            Object v = switch (op) {
                case ADD -> t == Type.DOUBLE_TYPE ? (Object) (-0.0d) : t == Type.LONG_TYPE ? (Object) 0L : (Object) 0;
                case MAX -> t == Type.DOUBLE_TYPE ? (Object) Double.NEGATIVE_INFINITY : t == Type.FLOAT_TYPE ? (Object) Float.NEGATIVE_INFINITY
                        : t == Type.LONG_TYPE ? (Object) Long.MIN_VALUE : (Object) Integer.MIN_VALUE;
                case MIN -> t == Type.DOUBLE_TYPE ? (Object) Double.POSITIVE_INFINITY : t == Type.FLOAT_TYPE ? (Object) Float.POSITIVE_INFINITY
                        : t == Type.LONG_TYPE ? (Object) Long.MAX_VALUE : (Object) Integer.MAX_VALUE;
                default -> throw new IllegalStateException(op.name());
            };
            mv.visitLdcInsn(v);
        }

        /// `lane = lane op e`
        void foldInto(int lane, Fold f, Type t) {
            mv.visitVarInsn(t.getOpcode(ILOAD), lane);
            expr(f.e());
            combine(f.op(), t);
            mv.visitVarInsn(t.getOpcode(ISTORE), lane);
        }

        void combine(BinOp op, Type t) {
            switch (op) {
                case ADD -> mv.visitInsn(t.getOpcode(IADD));
                case MAX -> math2("max", t);
                case MIN -> math2("min", t);
                default -> throw new IllegalStateException(op.name());
            }
        }

        // ---- affine indices ----------------------------------------------------------------

        /// Emits an int index expression. Sums and products of counters, symbols and constants
        /// are expanded to `sum of coef * monomial` and emitted outermost-first, constant last:
        /// `((((i0*32 + i1)*14 + i2)*2 + r)*14 + i3)` becomes `i0*6272 + i1*196 + i2*28 + i3*2 +
        /// r*14`, whose prefix `i0*6272 + i1*196` is invariant in the loops over i2 and below.
        /// Anything else (a division, a load) is an opaque factor.
        void index(Expr e) {
            Map<List<Expr>, Long> poly = poly(e);
            if (poly == null) {
                expr(e);
                return;
            }
            List<List<Expr>> monos = new ArrayList<>(poly.keySet());
            monos.removeIf(m -> m.isEmpty() || poly.get(m).intValue() == 0);
            monos.sort(java.util.Comparator.<List<Expr>>comparingInt(this::depth).thenComparing(Object::toString));
            long constant = poly.getOrDefault(List.<Expr>of(), 0L);
            boolean first = true;
            for (List<Expr> m : monos) {
                for (int i = 0; i < m.size(); i++) {
                    // a counter's offset is in the constant term already
                    if (m.get(i) instanceof Local l) mv.visitVarInsn(ILOAD, locals.get(l.name()));
                    else expr(m.get(i));
                    if (i > 0) mv.visitInsn(IMUL);
                }
                int coef = poly.get(m).intValue();
                if (coef == -1) mv.visitInsn(INEG);
                else if (coef != 1) {
                    push(mv, coef);
                    mv.visitInsn(IMUL);
                }
                if (!first) mv.visitInsn(IADD);
                first = false;
            }
            if (first) push(mv, (int) constant);
            else if ((int) constant != 0) {
                push(mv, (int) constant);
                mv.visitInsn(IADD);
            }
        }

        /// Most terms a polynomial may have before it is left as written.
        static final int MAX_TERMS = 24;

        /// `e` as monomial (a sorted list of factors; [] for the constant) -> coefficient, or
        /// null when `e` is not an int expression worth expanding.
        Map<List<Expr>, Long> poly(Expr e) {
            if (e.type() != DType.I32) return null;
            Map<List<Expr>, Long> p = new HashMap<>();
            switch (e) {
                case IntConst c -> p.put(List.of(), c.value());
                case Local l when constCounters.containsKey(l.name()) -> p.put(List.of(), (long) constCounters.get(l.name()));
                case Local l when counterOffsets.containsKey(l.name()) -> {
                    p.put(List.of(l), 1L);
                    p.put(List.of(), (long) counterOffsets.get(l.name()));
                }
                case Bin b when b.op() == BinOp.ADD || b.op() == BinOp.SUB -> {
                    Map<List<Expr>, Long> x = polyOrAtom(b.a()), y = polyOrAtom(b.b());
                    p.putAll(x);
                    long sign = b.op() == BinOp.ADD ? 1 : -1;
                    y.forEach((m, c) -> p.merge(m, sign * c, Long::sum));
                }
                case Bin b when b.op() == BinOp.MUL -> {
                    Map<List<Expr>, Long> x = polyOrAtom(b.a()), y = polyOrAtom(b.b());
                    x.forEach((mx, cx) -> y.forEach((my, cy) -> {
                        List<Expr> m = new ArrayList<>(mx);
                        m.addAll(my);
                        m.sort(java.util.Comparator.comparing(Object::toString));
                        p.merge(List.copyOf(m), cx * cy, Long::sum);
                    }));
                }
                default -> p.put(List.of(e), 1L);
            }
            // coefficients are kept modulo 2^32, as int arithmetic computes them
            p.replaceAll((m, c) -> (long) (int) (long) c);
            return p.size() > MAX_TERMS ? null : p;
        }

        Map<List<Expr>, Long> polyOrAtom(Expr e) {
            Map<List<Expr>, Long> p = poly(e);
            return p != null ? p : new HashMap<>(Map.of(List.of(e), 1L));
        }

        /// The innermost loop level a monomial varies in (0: invariant in the whole task).
        int depth(List<Expr> mono) {
            int d = 0;
            for (Expr f : mono) d = Math.max(d, depth(f));
            return d;
        }

        int depth(Expr e) {
            return switch (e) {
                case Local l -> loopDepth.getOrDefault(l.name(), loopDepth.size() + 1); // a Let: innermost
                case IntConst _, FloatConst _, Sym _ -> 0;
                case Load l -> Math.max(depth(l.index()), 1);
                case Un u -> depth(u.x());
                case Bin b -> Math.max(depth(b.a()), depth(b.b()));
                case Sel s -> Math.max(depth(s.cond()), Math.max(depth(s.onTrue()), depth(s.onFalse())));
                case Convert c -> depth(c.x());
                case Rand r -> Math.max(depth(r.seed()), depth(r.index()));
            };
        }

        /// Pushes (code, epilogue task or -1, buffers, dims, epilogue iterations per block or 0, epilogue extent).
        void epilogueArgs(Loop epi, Expr perUnitFlat, boolean nestedPerUnit, Expr numel) {
            mv.visitVarInsn(ALOAD, 0);
            if (epi == null) {
                push(mv, -1);
                mv.visitVarInsn(ALOAD, 1);
                mv.visitVarInsn(ALOAD, 2);
                push(mv, 0);
                push(mv, 0);
                return;
            }
            push(mv, tasks.indexOf(task) + 1);
            mv.visitVarInsn(ALOAD, 1);
            mv.visitVarInsn(ALOAD, 2);
            if (epi.extent().equals(numel)) expr(perUnitFlat); // one flat loop over the output
            else push(mv, nestedPerUnit ? 1 : 0);
            expr(epi.extent());
        }

        void call(LibCall c, Loop epi) {
            switch (c) {
                case Gemm g -> {
                    if (g.dtype() != DType.F32) throw new IllegalStateException("gemm on " + g.dtype());
                    for (int b : List.of(g.out(), g.a(), g.b())) mv.visitVarInsn(ALOAD, bufferLocals.get(b));
                    for (Expr e : List.of(g.batch(), g.m(), g.n(), g.k())) expr(e);
                    push(mv, g.transA() ? 1 : 0);
                    push(mv, g.transB() ? 1 : 0);
                    Expr numel = program.buffers().get(g.out()).numel();
                    // nested loops run over rows when the output is a matrix (its outer loop is M)
                    epilogueArgs(epi, g.n(), epi != null && epi.extent().equals(g.m()) && Kir.eval(g.batch(), x -> 2) == 1, numel);
                    mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/codegen/jvm/rt/Gemm", "sgemmBatch",
                            "([F[F[FIIIIZZ" + EPI_DESC + ")V", false);
                }
                case Conv cv -> {
                    push(mv, cv.form().ordinal());
                    push(mv, switch (cv.dtype()) { case F32 -> 0; case F64 -> 1; case F16 -> 2; case BF16 -> 3;
                        default -> throw new IllegalStateException("conv2d on " + cv.dtype()); });
                    for (int b : List.of(cv.x(), cv.w(), cv.y())) mv.visitVarInsn(ALOAD, bufferLocals.get(b));
                    expr(cv.n());
                    ConvGeom q = cv.geom();
                    for (int v : new int[]{q.c(), q.h(), q.w(), q.o(), q.kh(), q.kw(), q.oh(), q.ow(), q.sh(), q.sw(), q.ph(), q.pw(),
                            q.dh(), q.dw(), q.groups()}) push(mv, v);
                    Expr numel = program.buffers().get(cv.out()).numel();
                    int perImage = switch (cv.form()) { case FORWARD -> q.o() * q.oh() * q.ow(); case GRAD_INPUT -> q.c() * q.h() * q.w();
                        case GRAD_WEIGHT -> 0; };
                    // nested loops run over images (the outer axis N), except for the weight gradient
                    epilogueArgs(epi, new IntConst(perImage, DType.I32), cv.form() != ConvForm.GRAD_WEIGHT, numel);
                    mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/codegen/jvm/rt/ConvKernels", "run",
                            "(IILjava/lang/Object;Ljava/lang/Object;Ljava/lang/Object;IIIIIIIIIIIIIIII" + EPI_DESC + ")V", false);
                }
            }
        }

        // ---- expressions -----------------------------------------------------------------

        void expr(Expr e) {
            switch (e) {
                case IntConst c -> {
                    if (c.type() == DType.I64) mv.visitLdcInsn(c.value());
                    else push(mv, (int) c.value());
                }
                case FloatConst c -> {
                    if (c.type() == DType.F64) mv.visitLdcInsn(c.value());
                    else mv.visitLdcInsn((float) c.value());
                }
                case Sym s -> mv.visitVarInsn(ILOAD, symLocals.get(s.name()));
                case Local l when constCounters.containsKey(l.name()) -> push(mv, constCounters.get(l.name()));
                case Local l -> {
                    mv.visitVarInsn(jvm(l.type()).getOpcode(ILOAD), locals.get(l.name()));
                    Integer offset = counterOffsets.get(l.name());
                    if (offset != null && offset != 0) {
                        push(mv, offset);
                        mv.visitInsn(IADD);
                    }
                }
                case Load l -> {
                    DType d = program.buffers().get(l.buffer()).dtype();
                    mv.visitVarInsn(ALOAD, bufferLocals.get(l.buffer()));
                    index(l.index());
                    switch (d) {
                        case F32 -> mv.visitInsn(FALOAD);
                        case F64 -> mv.visitInsn(DALOAD);
                        case I32 -> mv.visitInsn(IALOAD);
                        case I64 -> mv.visitInsn(LALOAD);
                        case BOOL -> mv.visitInsn(BALOAD);
                        case F16 -> {
                            mv.visitInsn(SALOAD);
                            mv.visitMethodInsn(INVOKESTATIC, "java/lang/Float", "float16ToFloat", "(S)F", false);
                        }
                        case BF16 -> {
                            mv.visitInsn(SALOAD);
                            mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/runtime/NdArray", "bf16ToFloat", "(S)F", false);
                        }
                    }
                }
                case Un u -> unary(u);
                case Bin b -> binary(b);
                case Sel s when !s.lazy() -> select(s);
                case Sel s -> {
                    Label no = new Label(), end = new Label();
                    expr(s.cond());
                    mv.visitJumpInsn(IFEQ, no);
                    expr(s.onTrue());
                    mv.visitJumpInsn(GOTO, end);
                    mv.visitLabel(no);
                    expr(s.onFalse());
                    mv.visitLabel(end);
                }
                case Convert c -> {
                    expr(c.x());
                    convert(c.x().type(), c.type());
                }
                case Rand r -> {
                    expr(r.seed());
                    expr(r.index());
                    mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/runtime/Rng", "uniform", "(JJ)D", false);
                    convert(DType.F64, r.type());
                }
            }
        }

        /// A select of two safe arms without a branch (a data-dependent branch such as
        /// `x > 0 ? g : 0` mispredicts half the time): both arms are evaluated and their bits
        /// combined under a mask of all ones or all zeros, which is exact for every value.
        void select(Sel s) {
            Type t = jvm(s.type());
            boolean wide = t.getSize() == 2;
            Type bits = wide ? Type.LONG_TYPE : Type.INT_TYPE;
            int a = alloc(bits), b = alloc(bits), m = alloc(bits);
            expr(s.onTrue());
            toBits(t);
            mv.visitVarInsn(bits.getOpcode(ISTORE), a);
            expr(s.onFalse());
            toBits(t);
            mv.visitVarInsn(bits.getOpcode(ISTORE), b);
            expr(s.cond());
            if (wide) mv.visitInsn(I2L);
            mv.visitInsn(bits.getOpcode(INEG)); // 1 -> all ones, 0 -> 0
            mv.visitVarInsn(bits.getOpcode(ISTORE), m);
            mv.visitVarInsn(bits.getOpcode(ILOAD), a);
            mv.visitVarInsn(bits.getOpcode(ILOAD), m);
            mv.visitInsn(bits.getOpcode(IAND));
            mv.visitVarInsn(bits.getOpcode(ILOAD), b);
            mv.visitVarInsn(bits.getOpcode(ILOAD), m);
            if (wide) mv.visitLdcInsn(-1L); else mv.visitInsn(ICONST_M1);
            mv.visitInsn(bits.getOpcode(IXOR));
            mv.visitInsn(bits.getOpcode(IAND));
            mv.visitInsn(bits.getOpcode(IOR));
            if (t == Type.FLOAT_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Float", "intBitsToFloat", "(I)F", false);
            if (t == Type.DOUBLE_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Double", "longBitsToDouble", "(J)D", false);
        }

        void toBits(Type t) {
            if (t == Type.FLOAT_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Float", "floatToRawIntBits", "(F)I", false);
            if (t == Type.DOUBLE_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Double", "doubleToRawLongBits", "(D)J", false);
        }

        /// Rounds a float on the stack to f16/bf16 precision when `d` asks for it.
        void round(DType d) {
            if (d == DType.F16) mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/codegen/jvm/rt/Rt", "toF16", "(F)F", false);
            if (d == DType.BF16) mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/codegen/jvm/rt/Rt", "toBf16", "(F)F", false);
        }

        void math(String name, Type t) {
            String d = t.getDescriptor();
            mv.visitMethodInsn(INVOKESTATIC, "java/lang/Math", name, "(" + d + ")" + d, false);
        }

        void math2(String name, Type t) {
            String d = t.getDescriptor();
            mv.visitMethodInsn(INVOKESTATIC, "java/lang/Math", name, "(" + d + d + ")" + d, false);
        }

        void unary(Un u) {
            DType d = u.type();
            Type t = jvm(d);
            DType xt = u.x().type();
            expr(u.x());
            switch (u.op()) {
                case NEG -> mv.visitInsn(t.getOpcode(INEG));
                case ABS -> math("abs", t);
                case SIGN -> {
                    if (d == DType.I32) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Integer", "signum", "(I)I", false);
                    else if (d == DType.I64) {
                        mv.visitMethodInsn(INVOKESTATIC, "java/lang/Long", "signum", "(J)I", false);
                        mv.visitInsn(I2L);
                    } else math("signum", t);
                }
                case RELU -> {
                    zero(t);
                    math2("max", t);
                }
                case EXP, LOG, TANH, SQRT -> {
                    String name = u.op().name().toLowerCase();
                    if (t == Type.FLOAT_TYPE) {
                        mv.visitInsn(F2D);
                        math(name, Type.DOUBLE_TYPE);
                        mv.visitInsn(D2F);
                        round(d);
                    } else math(name, Type.DOUBLE_TYPE);
                }
                case NOT -> {
                    mv.visitInsn(ICONST_1);
                    mv.visitInsn(IXOR);
                }
                case ISNAN -> {
                    if (jvm(xt) == Type.FLOAT_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Float", "isNaN", "(F)Z", false);
                    else if (jvm(xt) == Type.DOUBLE_TYPE) mv.visitMethodInsn(INVOKESTATIC, "java/lang/Double", "isNaN", "(D)Z", false);
                    else {
                        mv.visitInsn(jvm(xt).getSize() == 2 ? POP2 : POP);
                        mv.visitInsn(ICONST_0);
                    }
                }
            }
        }

        void zero(Type t) {
            if (t == Type.INT_TYPE) mv.visitInsn(ICONST_0);
            else if (t == Type.LONG_TYPE) mv.visitInsn(LCONST_0);
            else if (t == Type.FLOAT_TYPE) mv.visitInsn(FCONST_0);
            else mv.visitInsn(DCONST_0);
        }

        void binary(Bin b) {
            DType ot = b.a().type();
            Type t = jvm(ot);
            boolean floating = t == Type.FLOAT_TYPE || t == Type.DOUBLE_TYPE;
            if (floating && (b.op() == BinOp.EQ || b.op() == BinOp.NE)) {
                expr(b.a());
                expr(b.b());
                floatEquals(t, false);
                if (b.op() == BinOp.NE) {
                    mv.visitInsn(ICONST_1);
                    mv.visitInsn(IXOR);
                }
                return;
            }
            if (b.op().isCompare()) {
                expr(b.a());
                expr(b.b());
                compare(b.op(), t);
                return;
            }
            if (sameValue(b) instanceof Bin eq) {
                expr(eq.a());
                expr(eq.b());
                floatEquals(jvm(eq.a().type()), true);
                return;
            }
            if (b.op() == BinOp.POW) {
                expr(b.a());
                convert(ot, DType.F64);
                expr(b.b());
                convert(ot, DType.F64);
                mv.visitMethodInsn(INVOKESTATIC, "java/lang/Math", "pow", "(DD)D", false);
                if (ot.isInteger()) {
                    mv.visitInsn(D2L);
                    if (ot == DType.I32) mv.visitInsn(L2I);
                } else convert(DType.F64, ot);
                return;
            }
            expr(b.a());
            expr(b.b());
            switch (b.op()) {
                case ADD -> mv.visitInsn(t.getOpcode(IADD));
                case SUB -> mv.visitInsn(t.getOpcode(ISUB));
                case MUL -> mv.visitInsn(t.getOpcode(IMUL));
                case DIV -> {
                    if (ot.isInteger()) {
                        String d = t.getDescriptor();
                        mv.visitMethodInsn(INVOKESTATIC, "dev/kiln/codegen/jvm/rt/Rt", "div", "(" + d + d + ")" + d, false);
                    } else mv.visitInsn(t.getOpcode(IDIV));
                }
                case MOD -> mv.visitInsn(t.getOpcode(IREM));
                case MAX -> math2("max", t);
                case MIN -> math2("min", t);
                case AND -> mv.visitInsn(IAND);
                case OR -> mv.visitInsn(IOR);
                default -> throw new IllegalStateException(b.op().name());
            }
            if (b.op() != BinOp.MAX && b.op() != BinOp.MIN) round(b.type());
        }

        /// The equality inside `(a == b) || (isnan(a) && isnan(b))` on floats ("a and b are the
        /// same value", as the max-pool gradient asks of each window element), else null.
        static Bin sameValue(Bin b) {
            if (b.op() != BinOp.OR || !(b.a() instanceof Bin eq) || eq.op() != BinOp.EQ || !(b.b() instanceof Bin both)
                    || both.op() != BinOp.AND || !(both.a() instanceof Un na) || !(both.b() instanceof Un nb)
                    || na.op() != UnOp.ISNAN || nb.op() != UnOp.ISNAN) return null;
            Type t = jvm(eq.a().type());
            if (t != Type.FLOAT_TYPE && t != Type.DOUBLE_TYPE) return null;
            boolean straight = na.x().equals(eq.a()) && nb.x().equals(eq.b());
            boolean crossed = na.x().equals(eq.b()) && nb.x().equals(eq.a());
            return straight || crossed ? eq : null;
        }

        /// `a == b` on the two floats (doubles) on the stack, pushing 0 or 1, or with
        /// `nanEqual` also 1 when both are NaN. A float compare compiles to a branch (C2 may or
        /// may not turn it into a conditional move, depending on the branch profile it saw),
        /// and where the outcome follows the data, as in `x == max` over a pooling window, that
        /// branch is mispredicted often. So: `d = a - b` is +-0 exactly when finite a and b are
        /// equal (gradual underflow), which integer ops on its bits test without a branch; only
        /// a NaN difference (a NaN operand, or infinities of one sign) takes the branch to the
        /// plain compare, and that branch is rarely taken, so well predicted.
        void floatEquals(Type t, boolean nanEqual) {
            boolean wide = t == Type.DOUBLE_TYPE;
            Type bits = wide ? Type.LONG_TYPE : Type.INT_TYPE;
            int a = alloc(t), b = alloc(t), d = alloc(bits);
            mv.visitVarInsn(t.getOpcode(ISTORE), b);
            mv.visitVarInsn(t.getOpcode(ISTORE), a);
            mv.visitVarInsn(t.getOpcode(ILOAD), a);
            mv.visitVarInsn(t.getOpcode(ILOAD), b);
            mv.visitInsn(t.getOpcode(ISUB));
            toBits(t);
            if (wide) mv.visitLdcInsn(Long.MAX_VALUE); else mv.visitLdcInsn(Integer.MAX_VALUE);
            mv.visitInsn(bits.getOpcode(IAND));                                // |d| as bits
            mv.visitVarInsn(bits.getOpcode(ISTORE), d);
            Label nan = new Label(), end = new Label();
            mv.visitVarInsn(bits.getOpcode(ILOAD), d);
            if (wide) {
                mv.visitLdcInsn(Double.doubleToRawLongBits(Double.POSITIVE_INFINITY));
                mv.visitInsn(LCMP);
                mv.visitJumpInsn(IFGT, nan);
            } else {
                mv.visitLdcInsn(Float.floatToRawIntBits(Float.POSITIVE_INFINITY));
                mv.visitJumpInsn(IF_ICMPGT, nan);
            }
            mv.visitVarInsn(bits.getOpcode(ILOAD), d);                         // (|d| - 1) < 0: d is +-0
            if (wide) {
                mv.visitInsn(LCONST_1);
                mv.visitInsn(LSUB);
                push(mv, 63);
                mv.visitInsn(LUSHR);
                mv.visitInsn(L2I);
            } else {
                mv.visitInsn(ICONST_1);
                mv.visitInsn(ISUB);
                push(mv, 31);
                mv.visitInsn(IUSHR);
            }
            mv.visitJumpInsn(GOTO, end);
            mv.visitLabel(nan);
            mv.visitVarInsn(t.getOpcode(ILOAD), a);
            mv.visitVarInsn(t.getOpcode(ILOAD), b);
            compare(BinOp.EQ, t);
            if (nanEqual) {
                for (int x : new int[]{a, b}) {
                    mv.visitVarInsn(t.getOpcode(ILOAD), x);
                    mv.visitVarInsn(t.getOpcode(ILOAD), x);
                    compare(BinOp.NE, t);                                       // x != x: NaN
                }
                mv.visitInsn(IAND);
                mv.visitInsn(IOR);
            }
            mv.visitLabel(end);
        }

        /// Compares the two values on the stack; pushes 0 or 1. Float comparisons with NaN
        /// are false except `!=`, as in Java.
        void compare(BinOp op, Type t) {
            int jump;
            if (t == Type.INT_TYPE) {
                jump = switch (op) { case EQ -> IF_ICMPEQ; case NE -> IF_ICMPNE; case LT -> IF_ICMPLT; case LE -> IF_ICMPLE;
                    case GT -> IF_ICMPGT; default -> IF_ICMPGE; };
            } else {
                if (t == Type.LONG_TYPE) mv.visitInsn(LCMP);
                else {
                    boolean g = op == BinOp.LT || op == BinOp.LE; // NaN must make these false
                    mv.visitInsn(t == Type.FLOAT_TYPE ? (g ? FCMPG : FCMPL) : (g ? DCMPG : DCMPL));
                }
                jump = switch (op) { case EQ -> IFEQ; case NE -> IFNE; case LT -> IFLT; case LE -> IFLE; case GT -> IFGT; default -> IFGE; };
            }
            Label yes = new Label(), end = new Label();
            mv.visitJumpInsn(jump, yes);
            mv.visitInsn(ICONST_0);
            mv.visitJumpInsn(GOTO, end);
            mv.visitLabel(yes);
            mv.visitInsn(ICONST_1);
            mv.visitLabel(end);
        }

        /// Converts the value on the stack with the interpreter's rules.
        void convert(DType from, DType to) {
            if (from == to) return;
            Type f = jvm(from), t = jvm(to);
            if (to == DType.BOOL) {
                zero(f);
                compare(BinOp.NE, f);
                return;
            }
            if (f == t) { // f16 <-> bf16 <-> f32, or bool -> i32
                round(to);
                return;
            }
            if (from == DType.I64 && t == Type.FLOAT_TYPE) { // via double, as NdArray.setDouble does
                mv.visitInsn(L2D);
                mv.visitInsn(D2F);
                round(to);
                return;
            }
            int op = f == Type.INT_TYPE ? (t == Type.LONG_TYPE ? I2L : t == Type.FLOAT_TYPE ? I2F : I2D)
                    : f == Type.LONG_TYPE ? (t == Type.INT_TYPE ? L2I : L2D)
                    : f == Type.FLOAT_TYPE ? (t == Type.INT_TYPE ? F2I : t == Type.LONG_TYPE ? F2L : F2D)
                    : (t == Type.INT_TYPE ? D2I : t == Type.LONG_TYPE ? D2L : D2F);
            mv.visitInsn(op);
            round(to);
        }

        // ---- what a task touches -----------------------------------------------------------

        void scan(Stmt s, LinkedHashSet<Integer> bufs, LinkedHashSet<String> syms) {
            switch (s) {
                case Loop l -> { Kir.uses(l.extent(), bufs, syms); for (Stmt b : l.body()) scan(b, bufs, syms); }
                case Let l -> Kir.uses(l.value(), bufs, syms);
                case Set l -> Kir.uses(l.value(), bufs, syms);
                case Store st -> { bufs.add(st.buffer()); Kir.uses(st.index(), bufs, syms); Kir.uses(st.value(), bufs, syms); }
                case Call c -> {
                    bufs.add(c.call().out());
                    bufs.addAll(c.call().reads());
                    switch (c.call()) {
                        case Gemm g -> { for (Expr e : List.of(g.batch(), g.m(), g.n(), g.k())) Kir.uses(e, bufs, syms); }
                        case Conv cv -> Kir.uses(cv.n(), bufs, syms);
                    }
                }
            }
        }
    }
}
