package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.codegen.jvm.rt.KernelSet;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.passes.GraphDump;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.KirPrinter;
import dev.kiln.passes.lower.Lower;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.util.TraceClassVisitor;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;

/// The JVM backend: graph -> kernel IR (`Lower`) -> bytecode (`BytecodeGen`) and its `Plan`
/// (`PlanBuilder`) -> a hidden class -> `PlanExecutable`, the same executor a standalone jar
/// runs its kernels with.
///
/// Why hidden classes: a compiled graph is garbage like any object once its executable is
/// unreachable (hidden classes unload with their last instance, no class loader per graph
/// needed), it cannot be named or linked against by other code, and defining one is cheap.
/// The price is that it cannot be written to a jar as is; `classBytes` gives the same bytes
/// for that, under a stable name.
///
/// Profiling: `-Dkiln.profile=true` or `KILN_PROFILE=1` profiles every compiled graph (see
/// `KernelProfile`) and prints each one's table at exit.
public final class JvmBackend {
    private JvmBackend() {}

    /// Compiles `g` to run on this JVM; throws IrError naming an op that cannot be lowered.
    public static PlanExecutable compile(Graph g) { return compile(g, Pool.shared(), null); }

    /// As `compile(g)`, adding the kernel IR and the bytecode to `dump` (null: no dump), after the
    /// stages the passes wrote there.
    public static PlanExecutable compile(Graph g, GraphDump dump) { return compile(g, Pool.shared(), dump); }

    /// As `compile(g, dump)`, splitting large loops across `pool`.
    public static PlanExecutable compile(Graph g, Pool pool, GraphDump dump) {
        long t0 = System.nanoTime();
        KernelProgram p = Lower.lower(g, dump);
        long t1 = System.nanoTime();
        PlanBuilder.Compiled c = PlanBuilder.generate(g, p, className(g), dump);
        long t2 = System.nanoTime();
        PlanExecutable exe = PlanBuilder.load(c, pool);
        if (KernelProfile.requested()) {
            System.err.printf("kiln jvm @%s: %d ops, %d kernels, lower %.1f ms, bytecode %.1f ms (%d bytes), define %.1f ms%n", g.name(),
                    g.body().size(), p.kernels().size(), (t1 - t0) / 1e6, (t2 - t1) / 1e6, c.classBytes().length, (System.nanoTime() - t2) / 1e6);
            exe.enableProfile();
            // print every profiled executable's table when the JVM exits
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                KernelProfile prof = exe.profile();
                if (prof != null && prof.runs() > 0) System.err.print("kiln profile @" + g.name() + ", " + prof.runs() + " runs\n" + prof.table());
            }));
        }
        return exe;
    }

    /// Compiles a kernel program that comes without its graph (one that `KirParser` read, say),
    /// given the types of its parameters and results (its buffers are flat), to run on this JVM.
    public static PlanExecutable compile(KernelProgram p, List<TensorType> paramTypes, List<TensorType> resultTypes) {
        String className = "dev/kiln/codegen/jvm/Kernels_" + p.name().replaceAll("[^A-Za-z0-9_]", "_");
        return PlanBuilder.load(PlanBuilder.build(p, paramTypes, resultTypes, className), Pool.shared());
    }

    /// Adds `NN-bytecode.txt` to `dump` (when not null): the generated class, javap-style.
    static void dump(GraphDump dump, byte[] bytes, long generateNanos) {
        if (dump != null) dump.stage("bytecode", "txt", textify(bytes), generateNanos, GraphDump.counts("classes", 1, "bytes", bytes.length));
    }

    /// The same name for the same graph, so dumps are reproducible; a hidden class gets a
    /// unique suffix from the JVM, so two compiled graphs of one name never clash.
    static String className(Graph g) {
        return "dev/kiln/codegen/jvm/Graph_" + g.name().replaceAll("[^A-Za-z0-9_]", "_");
    }

    /// The generated class file of `g`.
    public static byte[] classBytes(Graph g) {
        return new BytecodeGen(Lower.lower(g), className(g)).generate();
    }

    static KernelSet define(byte[] bytes) {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup().defineHiddenClass(bytes, true);
            return (KernelSet) lookup.findConstructor(lookup.lookupClass(), MethodType.methodType(void.class)).invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("generated class failed to load", t);
        }
    }

    /// The kernel IR of `g`, as text.
    public static String dumpKernels(Graph g) { return KirPrinter.print(Lower.lower(g)); }

    /// The generated bytecode of `g`, javap-style (ASM's Textifier).
    public static String dumpBytecode(Graph g) { return textify(classBytes(g)); }

    static String textify(byte[] bytes) {
        StringWriter out = new StringWriter();
        new ClassReader(bytes).accept(new TraceClassVisitor(new PrintWriter(out)), 0);
        return out.toString();
    }
}
