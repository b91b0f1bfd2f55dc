package dev.kiln.codegen.jvm.rt;

/// The generated code of one compiled graph: task `task` over outer-loop iterations
/// `[lo, hi)`, reading and writing `buffers` (indexed by buffer id) with the dimension symbols'
/// values in `dims`. Implementations are stateless, so one instance serves every thread.
public interface KernelSet {
    void run(int task, Object[] buffers, int[] dims, int lo, int hi);
}
