package dev.kiln.codegen.cuda;

import dev.kiln.ir.kernel.Kir.Expr;

import java.util.List;

/// One kernel launch of a compiled program: the entry, its arguments in parameter order, and its
/// grid as size expressions over the dimension symbols (evaluated when the symbols are bound;
/// a launch whose grid has a dimension <= 0 is skipped). `kernel` is the index of the kernel-IR
/// kernel it belongs to, `mode` says how the entry maps work to threads (for dumps).
/// Invariant: `args` matches the entry's `.param` list one to one.
public record Launch(String entry, List<Arg> args, Expr gridX, Expr gridY, Expr gridZ, int block, int kernel, String mode) {
    public Launch { args = List.copyOf(args); }

    /// A kernel argument.
    public sealed interface Arg {}
    /// The device address of buffer `id` (`.param .u64`).
    public record Buf(int id) implements Arg {}
    /// An integer size (`.param .s32`), evaluated with the bound symbols.
    public record Int(Expr value) implements Arg {}
}
