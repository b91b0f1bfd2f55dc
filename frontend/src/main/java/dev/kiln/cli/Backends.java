package dev.kiln.cli;

import java.lang.reflect.InvocationTargetException;
import java.util.List;

import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

/// The ways `kiln ir run` can evaluate a graph. `interp` is the reference interpreter; `jvm`
/// compiles the graph to bytecode with the JVM backend. Invariant: `run` returns one array per
/// result, in result order, or throws an exception whose message is for the user.
final class Backends {
    private Backends() {}

    static final List<String> NAMES = List.of("interp", "jvm");

    /// Where the JVM backend lives. It is looked up by name so that this command builds and
    /// runs whether or not the backend is in the build yet, and says so plainly when it is not.
    private static final String JVM_BACKEND = "dev.kiln.codegen.jvm.JvmBackend";

    static List<NdArray> run(String backend, Graph g, List<NdArray> inputs) {
        return switch (backend) {
            case "interp" -> Interpreter.run(g, inputs);
            case "jvm" -> jvm(g).run(inputs);
            default -> throw new CliException("unknown backend '" + backend + "' (expected " + String.join(" or ", NAMES) + ")");
        };
    }

    /// Whether `backend` can run in this build.
    static boolean available(String backend) {
        if (!backend.equals("jvm")) return NAMES.contains(backend);
        try {
            Class.forName(JVM_BACKEND);
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static Executable jvm(Graph g) {
        if (!available("jvm"))
            throw new CliException("the jvm backend is not available in this build yet; use --backend interp");
        try {
            Object exe = Class.forName(JVM_BACKEND).getMethod("compile", Graph.class).invoke(null, g);
            return (Executable) exe;
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new CliException("the jvm backend in this build has no usable compile(Graph): " + e);
        }
    }
}
