package dev.kiln;

import dev.kiln.ir.Loc;

/// A user-facing error of the frontend that is not about an IR op's types: reading a tensor
/// while tracing, `backward` on a non-scalar, mixed devices, a state dict that does not fit.
/// Worded like IrError: `<file>:<line>: error: <what>`, so every error the user sees points at
/// the line of their code that caused it. Invariant: the message is one line.
public final class KilnException extends RuntimeException {
    private final transient Loc loc;

    public KilnException(Loc loc, String detail) {
        super(loc != null && loc.isKnown() ? loc + ": error: " + detail : "error: " + detail);
        this.loc = loc == null ? Loc.UNKNOWN : loc;
    }

    public KilnException(String detail) { this(Locations.capture(), detail); }

    public Loc loc() { return loc; }
}
