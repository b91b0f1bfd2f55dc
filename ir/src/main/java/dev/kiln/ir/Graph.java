package dev.kiln.ir;

import java.util.List;

/// An SSA function: parameters (values whose op is `Param`, in index order), a body of values in
/// definition order, and results. Immutable; passes build new graphs with a `Builder`.
/// Invariant (checked by `Verifier`): every operand is a parameter or an earlier body value.
public record Graph(String name, List<Value> params, List<Value> body, List<Value> results) {
    public Graph {
        params = List.copyOf(params);
        body = List.copyOf(body);
        results = List.copyOf(results);
    }

    /// The parameter called `name`, or null.
    public Value param(String name) {
        for (Value p : params) if (((Op.Param) p.op()).name().equals(name)) return p;
        return null;
    }

    public List<String> paramNames() {
        return params.stream().map(p -> ((Op.Param) p.op()).name()).toList();
    }

    public List<TensorType> resultTypes() { return results.stream().map(Value::type).toList(); }

    @Override public String toString() { return dev.kiln.ir.text.Printer.print(this); }
}
