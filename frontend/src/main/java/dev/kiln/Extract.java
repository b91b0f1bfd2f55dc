package dev.kiln;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/// Cuts a graph out of the node DAG: from the requested nodes back to the nodes a policy calls
/// inputs, which become parameters in the order they are first reached. Ops are re-emitted into
/// one fresh builder at their recorded locations, so equal ops merge (the builder interns) and
/// the result is a canonical graph for the compile cache. Iterative, so deep eager histories do
/// not overflow the stack.
final class Extract {
    enum Role { INPUT, EXPAND }

    private final Builder b = new Builder();
    private final Map<Node, Value> done = new IdentityHashMap<>();
    private final List<Node> inputs = new ArrayList<>();
    private final Function<Node, Role> role;
    private final BiFunction<Node, Integer, String> paramName;

    /// `role` says whether a node is an input or is computed from its inputs (it may be asked
    /// more than once about a node and must answer the same); `paramName` names an input given its parameter index.
    Extract(Function<Node, Role> role, BiFunction<Node, Integer, String> paramName) {
        this.role = role;
        this.paramName = paramName;
    }

    Builder builder() { return b; }

    /// The nodes that became parameters, in parameter order.
    List<Node> inputs() { return inputs; }

    /// The value of `root` in the graph being built, adding whatever it needs.
    Value add(Node root) {
        Deque<Node> stack = new ArrayDeque<>();
        stack.push(root);
        while (!stack.isEmpty()) {
            Node n = stack.peek();
            if (done.containsKey(n)) {
                stack.pop();
                continue;
            }
            if (role.apply(n) == Role.INPUT) {
                done.put(n, b.param(paramName.apply(n, inputs.size()), n.type()));
                inputs.add(n);
                stack.pop();
                continue;
            }
            boolean ready = true;
            for (int i = n.inputs.size() - 1; i >= 0; i--) { // reversed, so operands are emitted in order
                Node in = n.inputs.get(i);
                if (!done.containsKey(in)) {
                    stack.push(in);
                    ready = false;
                }
            }
            if (ready) {
                stack.pop();
                try (var _ = b.at(n.value.loc())) {
                    done.put(n, b.emit(n.remap(done::get)));
                }
            }
        }
        return done.get(root);
    }

    /// The value already made for `n`, or null.
    Value valueOf(Node n) { return done.get(n); }

    Graph build(String name, List<Value> results) { return b.build(name, results); }
}
