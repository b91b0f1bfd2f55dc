package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.KernelProgram;

import java.util.List;

/// A kernel program translated to one PTX module: the module text (`.version 8.0`, `.target
/// sm_80`) and the launches that run the program, in order. Invariant: every launch names an
/// entry defined in `ptx`.
public record PtxProgram(KernelProgram program, String ptx, List<Launch> launches) {
    public PtxProgram { launches = List.copyOf(launches); }
}
