package dev.kiln;

import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.ir.Graph;
import dev.kiln.ir.interp.Interpreter;
import dev.kiln.passes.GraphDump;
import dev.kiln.runtime.Executable;

/// What turns a graph into something that runs. Eager tensors, compiled models and compiled
/// train steps on the CPU all go through the selected backend (`-Dkiln.backend=interpreter|jvm|cuda`,
/// or `Kiln.setBackend`), so they share one semantics and one set of kernels; those on `cuda`
/// tensors go through `cuda()`.
/// Invariant: `compile` does not keep or change the graph it is given.
public interface Backend {
    String name();

    Executable compile(Graph graph);

    /// As `compile(graph)`, adding the backend's stages (kernel IR, generated code) to `dump`
    /// after those the passes wrote there; a backend with nothing to show ignores it.
    default Executable compile(Graph graph, GraphDump dump) { return compile(graph); }

    /// The reference interpreter: slow, obviously right, always available.
    static Backend interpreter() {
        return new Backend() {
            @Override public String name() { return "interpreter"; }
            @Override public Executable compile(Graph graph) { return inputs -> Interpreter.run(graph, inputs); }
        };
    }

    /// The CUDA backend (kernel IR to PTX, run through the CUDA driver); throws `KilnException`
    /// saying why when this process cannot use a GPU.
    static Backend cuda() {
        String why = CudaBackend.unavailableReason();
        if (why != null) throw new KilnException("backend 'cuda' is not available: " + why);
        return new Backend() {
            @Override public String name() { return "cuda"; }
            @Override public Executable compile(Graph graph) { return CudaBackend.compile(graph); }
            @Override public Executable compile(Graph graph, GraphDump dump) { return CudaBackend.compile(graph, dump); }
        };
    }

    /// The backend called `name`: `interpreter`, `jvm` once the bytecode backend is on the
    /// classpath, or `cuda` where a GPU is usable.
    static Backend named(String name) {
        return switch (name) {
            case "interpreter", "interp" -> interpreter();
            case "jvm" -> reflective("dev.kiln.codegen.jvm.JvmBackend", name);
            case "cuda" -> cuda();
            default -> throw new KilnException("unknown backend '" + name + "' (known: interpreter, jvm, cuda)");
        };
    }

    /// A backend class with a static `compile(Graph, GraphDump) -> Executable`, found at run time
    /// so that the frontend builds before that backend exists.
    private static Backend reflective(String className, String name) {
        java.lang.reflect.Method m;
        try {
            m = Class.forName(className).getMethod("compile", Graph.class, GraphDump.class);
        } catch (ReflectiveOperationException e) {
            throw new KilnException("backend '" + name + "' is not on the classpath (" + className + " not found)");
        }
        return new Backend() {
            @Override public String name() { return name; }
            @Override public Executable compile(Graph graph) { return compile(graph, null); }
            @Override public Executable compile(Graph graph, GraphDump dump) {
                try {
                    return (Executable) m.invoke(null, graph, dump);
                } catch (java.lang.reflect.InvocationTargetException e) {
                    if (e.getCause() instanceof RuntimeException r) throw r;
                    throw new IllegalStateException(e.getCause());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
    }
}
