package dev.kiln.ir;

/// An SSA value: the result of exactly one op. An identity object on purpose: equals is `==`,
/// so an op record holding Values compares shallowly and can key a HashMap (that is how the
/// builder interns ops, i.e. our CSE). Never override equals here.
public final class Value {
    private final Op op;
    private final TensorType type;
    private final Loc loc;

    Value(Op op, TensorType type, Loc loc) {
        this.op = op;
        this.type = type;
        this.loc = loc;
    }

    public Op op() { return op; }
    public TensorType type() { return type; }
    public Loc loc() { return loc; }

    @Override public String toString() { return "%" + Ops.mnemonic(op) + ":" + type; }
}
