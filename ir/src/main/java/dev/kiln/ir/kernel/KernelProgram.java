package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.Buffer;
import dev.kiln.ir.kernel.Kir.Kernel;
import dev.kiln.runtime.NdArray;

import java.util.List;

/// A lowered graph: its buffers, its kernels in execution order, and how it meets the outside:
/// `params.get(i)` is the buffer of parameter i, `results.get(i)` the buffer holding result i
/// (a PARAM buffer when the graph returns an input unchanged), `symbols` the dimension symbols,
/// each bound from axis `symbolAxes.get(s)` of parameter `symbolParams.get(s)`.
/// Invariant: every buffer a kernel reads is a PARAM or CONST buffer or is written by an
/// earlier kernel (or earlier in the same kernel). Equality is by value, constants included
/// (`KirParser.parse(KirPrinter.print(p))` equals `p`).
public record KernelProgram(String name, List<Buffer> buffers, List<Kernel> kernels, List<Integer> params,
                            List<Integer> results, List<NdArray> constants, List<String> symbols,
                            List<Integer> symbolParams, List<Integer> symbolAxes, BufferPlan plan) {
    public KernelProgram {
        buffers = List.copyOf(buffers);
        kernels = List.copyOf(kernels);
        params = List.copyOf(params);
        results = List.copyOf(results);
        constants = List.copyOf(constants);
        symbols = List.copyOf(symbols);
        symbolParams = List.copyOf(symbolParams);
        symbolAxes = List.copyOf(symbolAxes);
    }

    @Override public boolean equals(Object o) {
        if (!(o instanceof KernelProgram p) || constants.size() != p.constants.size()) return false;
        for (int i = 0; i < constants.size(); i++) if (!constants.get(i).contentEquals(p.constants.get(i))) return false;
        return name.equals(p.name) && buffers.equals(p.buffers) && kernels.equals(p.kernels) && params.equals(p.params)
                && results.equals(p.results) && symbols.equals(p.symbols) && symbolParams.equals(p.symbolParams)
                && symbolAxes.equals(p.symbolAxes) && plan.equals(p.plan);
    }

    @Override public int hashCode() { return (name.hashCode() * 31 + buffers.hashCode()) * 31 + kernels.hashCode(); }

    @Override public String toString() { return KirPrinter.print(this); }
}
