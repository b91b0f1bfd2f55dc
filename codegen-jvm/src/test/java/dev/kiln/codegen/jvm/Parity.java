package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.util.CheckClassAdapter;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/// Runs a graph through the JVM backend and through the interpreter on the same random inputs
/// and compares every result. Tolerances, per dtype:
/// - bool, i32, i64: exact;
/// - f64: |got - want| <= 1e-12 * max(1, max|want|);
/// - f32: 2e-5 * max(1, max|want|) over the whole tensor: elementwise ops and reductions match
///   bit for bit (f32 math where it rounds identically, double accumulators like the
///   interpreter's), but matmul and convolutions accumulate in f32 with FMA in another order;
/// - f16, bf16: one unit in the last place of max|want| (2^-10 and 2^-7 relative).
/// NaN matches NaN. Every generated class also passes ASM's CheckClassAdapter, and every
/// method is checked to be under HotSpot's 8,000-byte JIT limit.
public final class Parity {
    private Parity() {}

    static final int HUGE_METHOD = 8000;

    static Map<String, Integer> bindings(Object... kv) {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Integer) kv[i + 1]);
        return m;
    }

    static List<NdArray> randomInputs(Graph g, Map<String, Integer> bind, long seed) {
        Random r = new Random(seed);
        List<NdArray> out = new ArrayList<>();
        for (Value p : g.params()) out.add(random(p.type().dtype(), p.type().shape().resolve(bind), r));
        return out;
    }

    static NdArray random(DType d, int[] shape, Random r) {
        NdArray a = NdArray.zeros(d, shape);
        for (int i = 0; i < a.size(); i++) {
            switch (d) {
                case BOOL -> a.setBool(i, r.nextBoolean());
                case I32, I64 -> a.setLong(i, r.nextInt(41) - 20);
                default -> a.setDouble(i, r.nextDouble() * 4 - 2);
            }
        }
        return a;
    }

    /// Compiles `g` once and checks it against the interpreter for each binding.
    @SafeVarargs
    static PlanExecutable check(Graph g, Map<String, Integer>... bindings) {
        verify(JvmBackend.classBytes(g));
        PlanExecutable exe = JvmBackend.compile(g);
        if (bindings.length == 0) bindings = new Map[]{Map.of()};
        long seed = 1;
        for (Map<String, Integer> b : bindings) {
            List<NdArray> in = randomInputs(g, b, seed++);
            compare(g.name() + " " + b, Interpreter.run(g, in), exe.run(in));
        }
        return exe;
    }

    public static void compare(String what, List<NdArray> want, List<NdArray> got) {
        assertEquals(want.size(), got.size(), what + ": result count");
        for (int r = 0; r < want.size(); r++) compare(what + " result #" + r, want.get(r), got.get(r));
    }

    static void compare(String what, NdArray want, NdArray got) {
        assertEquals(want.dtype(), got.dtype(), what + ": dtype");
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        DType d = want.dtype();
        double scale = 1;
        for (int i = 0; i < want.size(); i++) if (Double.isFinite(want.getDouble(i))) scale = Math.max(scale, Math.abs(want.getDouble(i)));
        double tol = switch (d) {
            case BOOL, I32, I64 -> 0;
            case F64 -> 1e-12 * scale;
            case F32 -> 2e-5 * scale;
            case F16 -> 0x1p-10 * scale;
            case BF16 -> 0x1p-7 * scale;
        };
        for (int i = 0; i < want.size(); i++) {
            if (d.isInteger() || d == DType.BOOL) {
                assertEquals(want.getLong(i), got.getLong(i), what + ": element " + i);
                continue;
            }
            double w = want.getDouble(i), x = got.getDouble(i);
            if (Double.isNaN(w) || Double.isNaN(x)) {
                assertTrue(Double.isNaN(w) && Double.isNaN(x), what + ": element " + i + " want " + w + " got " + x);
                continue;
            }
            if (Double.isInfinite(w) || Double.isInfinite(x)) {
                assertEquals(w, x, what + ": element " + i);
                continue;
            }
            assertEquals(w, x, tol, what + ": element " + i);
        }
    }

    /// ASM's verifier over the class, and the size of every method.
    public static void verify(byte[] bytes) {
        StringWriter sw = new StringWriter();
        CheckClassAdapter.verify(new ClassReader(bytes), Parity.class.getClassLoader(), false, new PrintWriter(sw));
        assertEquals("", sw.toString(), "CheckClassAdapter");
        for (int size : methodSizes(bytes).values()) assertTrue(size < HUGE_METHOD, "method of " + size + " bytes");
    }

    static Map<String, Integer> methodSizes(byte[] bytes) {
        ClassModel cm = ClassFile.of().parse(bytes);
        Map<String, Integer> out = new HashMap<>();
        for (MethodModel m : cm.methods())
            m.findAttribute(Attributes.code()).ifPresent(c -> out.put(m.methodName().stringValue(), c.codeLength()));
        return out;
    }
}
