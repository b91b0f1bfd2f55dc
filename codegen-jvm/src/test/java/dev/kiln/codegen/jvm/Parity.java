package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.ir.interp.Tolerance;
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
/// and compares every result within `Tolerance`'s bound (exact for bool and integers; for f32
/// 2e-5 of the tensor's largest magnitude: elementwise ops and reductions match bit for bit, f32
/// math where it rounds identically and double accumulators like the interpreter's, but matmul
/// and convolutions accumulate in f32 with FMA in another order). Every generated class also
/// passes ASM's CheckClassAdapter, and every method is checked to be under HotSpot's 8,000-byte
/// JIT limit.
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

    /// Fails with the first place where `got` leaves `Tolerance`'s bound around `want`.
    public static void compare(String what, List<NdArray> want, List<NdArray> got) {
        String m = Tolerance.mismatch(want, got);
        if (m != null) fail(what + ": " + m);
    }

    static void compare(String what, NdArray want, NdArray got) {
        String m = Tolerance.mismatch(want, got);
        if (m != null) fail(what + ": " + m);
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
