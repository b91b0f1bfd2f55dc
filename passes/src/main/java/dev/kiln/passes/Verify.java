package dev.kiln.passes;

import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;

import java.util.HashSet;
import java.util.Set;

/// The checks the pass manager runs between passes: every operand is defined before its use,
/// every declared type is what the op's type rule gives, results are defined; regions too.
/// A stand-in for the IR's full verifier, to be replaced by it.
final class Verify {
    private Verify() {}

    static void verify(Graph g) {
        Set<Value> defined = new HashSet<>(g.params());
        for (Value v : g.body()) {
            for (Value x : Ops.operands(v.op()))
                if (!defined.contains(x))
                    throw new IrError(v.loc(), "'" + Ops.mnemonic(v.op()) + "' in graph @" + g.name() + " uses a value defined later or elsewhere");
            TensorType t;
            try {
                t = v.op().inferType();
            } catch (IrError e) {
                throw e.at(v.loc());
            }
            if (!t.equals(v.type()))
                throw new IrError(v.loc(), "'" + Ops.mnemonic(v.op()) + "' declares type " + v.type() + " but its operands give " + t);
            if (v.op() instanceof Op.Fused f) verify(f.body());
            defined.add(v);
        }
        for (Value r : g.results())
            if (!defined.contains(r)) throw new IrError("graph @" + g.name() + " returns a value it does not define");
    }
}
