package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.rt.CudaPlan;
import dev.kiln.codegen.cuda.rt.CudaPlanExecutable;

/// A graph compiled in this process and loaded on the GPU: the run-time executor
/// (`CudaPlanExecutable`, the one a CUDA jar runs) on the plan that `CudaBackend.plan` makes of
/// the compiler's output, which it keeps (`ptx()`) for dumps, benchmarks and the jar writer.
public final class CudaExecutable extends CudaPlanExecutable {
    private final PtxProgram ptx;

    CudaExecutable(PtxProgram ptx, CudaPlan plan, boolean graphs) {
        super(plan, ptx.ptx(), ptx.program().constants(), graphs);
        this.ptx = ptx;
    }

    public PtxProgram ptx() { return ptx; }

    @Override public CudaExecutable retain() {
        super.retain();
        return this;
    }
}
