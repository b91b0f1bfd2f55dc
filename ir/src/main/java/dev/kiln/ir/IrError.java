package dev.kiln.ir;

/// The one error type of the IR: worded `<loc>: error: <what>`, e.g.
/// `Mlp.java:19 in fc2: error: 'matmul' operand #1 has shape [128,10], incompatible with operand #0 [32,784]`.
/// Unchecked, so a traced op fails at the user's line without ceremony. Invariant: the message
/// always starts with the location when one is known.
public final class IrError extends RuntimeException {
    private final Loc loc;
    private final String detail;

    public IrError(Loc loc, String detail) {
        super(format(loc, detail));
        this.loc = loc;
        this.detail = detail;
    }

    public IrError(String detail) { this(Loc.UNKNOWN, detail); }

    /// An error about `op`: the detail is prefixed with the quoted mnemonic.
    public static IrError of(Op op, String what) { return new IrError("'" + Ops.mnemonic(op) + "' " + what); }

    public Loc loc() { return loc; }
    public String detail() { return detail; }

    /// The same error placed at `where`, unless it already has a location.
    public IrError at(Loc where) { return loc.isKnown() || !where.isKnown() ? this : new IrError(where, detail); }

    private static String format(Loc loc, String detail) {
        return loc.isKnown() ? loc + ": error: " + detail : "error: " + detail;
    }
}
