package dev.kiln;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/// One value of the lazy graph behind tensors: an IR `Value` (op, type, source location) plus
/// the nodes its operands come from, and, once computed, its values. A tensor points at a node;
/// many tensors may share one. Nodes are made per op through a throw-away `Builder`, so the
/// pending graph is just the object graph of the nodes the program still holds: nothing global
/// grows, and what is no longer referenced is collected.
///
/// Invariant: for an `OP` node, `inputs.get(i)` produces operand `i` of `value.op()` (in
/// `Ops.operands` order); leaves (`LEAF`, `PLACEHOLDER`, `DETACHED`) have a `Param` value and no inputs.
final class Node {
    enum Kind {
        /// Holds values from outside any graph (created on the host, a parameter, an update result).
        LEAF,
        /// A traced input: a type without values (dimensions may be symbolic).
        PLACEHOLDER,
        /// The result of an op on other nodes.
        OP,
        /// Takes its values from `source` but hides source's history from autograd (`detach`).
        DETACHED
    }

    final Kind kind;
    final Value value;
    /// The producers of the operands; cleared once computed when no gradient can flow through it.
    List<Node> inputs;
    /// The values, once known; never mutated after being set (updates make new leaves).
    NdArray data;
    /// For a LEAF: the tensor whose `requiresGrad` flag decides whether gradients flow here and
    /// whose `grad` receives them (null for plain constants).
    final Tensor owner;
    /// For DETACHED: the node that computes the values.
    final Node source;
    /// For an OP: whether a gradient flows to it (some input needed one and grad mode was on).
    private final boolean opRequiresGrad;
    /// For a LEAF: a random-number seed that compiled graphs redraw on every call.
    boolean seed;
    /// For a LEAF whose values live on the GPU (no `data` yet): copies them to the host.
    private java.util.function.Supplier<NdArray> onDevice;

    private Node(Kind kind, Value value, List<Node> inputs, NdArray data, Tensor owner, Node source, boolean requiresGrad) {
        this.kind = kind;
        this.value = value;
        this.inputs = inputs;
        this.data = data;
        this.owner = owner;
        this.source = source;
        this.opRequiresGrad = requiresGrad;
    }

    TensorType type() { return value.type(); }

    boolean requiresGrad() {
        return switch (kind) {
            case LEAF -> owner != null && owner.requiresGradFlag();
            case OP -> opRequiresGrad;
            case PLACEHOLDER, DETACHED -> false;
        };
    }

    static Node leaf(NdArray data, TensorType type, Tensor owner) {
        return new Node(Kind.LEAF, param(type), List.of(), data, owner, null, false);
    }

    /// A leaf whose values stay on the GPU until read: `fetch` copies them to the host then.
    static Node onDevice(TensorType type, Tensor owner, java.util.function.Supplier<NdArray> fetch) {
        Node n = new Node(Kind.LEAF, param(type), List.of(), null, owner, null, false);
        n.onDevice = fetch;
        return n;
    }

    /// Makes `data` hold the values of a leaf (copying them from the GPU when they are there).
    void fetch() {
        if (data != null) return;
        if (onDevice == null) throw new IllegalStateException("leaf without values");
        data = onDevice.get();
        onDevice = null;
    }

    static Node placeholder(String name, TensorType type) {
        return new Node(Kind.PLACEHOLDER, new Builder().param(name, type), List.of(), null, null, null, false);
    }

    static Node detached(Node source) {
        return new Node(Kind.DETACHED, param(source.type()), List.of(), source.data, null, source, false);
    }

    /// A node for `value`, a value of some graph built elsewhere (a joint graph from autodiff),
    /// whose operands come from `inputs`. No gradient flows through it.
    static Node imported(Value value, List<Node> inputs) {
        return new Node(Kind.OP, value, List.copyOf(inputs), null, null, null, false);
    }

    private static Value param(TensorType type) { return new Builder().param("t", type); }

    /// Records the ops that `f` emits on the values of `inputs`, at `loc`, and returns the node
    /// of the value `f` returns (one of `inputs` when `f` emitted nothing). Type errors surface
    /// here, as IrError at `loc`.
    static Node emit(Loc loc, List<Node> inputs, BiFunction<Builder, List<Value>, Value> f) {
        Builder b = new Builder();
        Map<Value, Node> known = new IdentityHashMap<>();
        List<Value> values = new ArrayList<>(inputs.size());
        for (Node n : inputs) {
            known.putIfAbsent(n.value, n);
            values.add(n.value);
        }
        Value result;
        try (var _ = b.at(loc)) {
            result = f.apply(b, values);
        }
        boolean grad = Kiln.isGradEnabled() && inputs.stream().anyMatch(Node::requiresGrad);
        for (Value v : b.build("record", result).body()) {
            if (known.containsKey(v)) continue;
            List<Node> ins = new ArrayList<>();
            for (Value operand : Ops.operands(v.op())) ins.add(known.get(operand));
            boolean g = grad && ins.stream().anyMatch(Node::requiresGrad);
            known.put(v, new Node(Kind.OP, v, ins, null, null, null, g));
        }
        return known.get(result);
    }

    /// The op of this node with operand `i` replaced by `f(inputs.get(i))`.
    Op remap(java.util.function.Function<Node, Value> f) {
        int[] k = {0};
        return Ops.mapOperands(value.op(), _ -> f.apply(inputs.get(k[0]++)));
    }

    @Override public String toString() { return kind + " " + value.type() + (data != null ? " (computed)" : ""); }
}
