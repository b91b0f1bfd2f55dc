package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.passes.autodiff.Differentiate;
import dev.kiln.runtime.NdArray;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/// Eager `backward`: the recorded history of the output, from the leaves that require gradients,
/// becomes one graph; the autodiff pass turns it into the joint graph (the output, then one
/// gradient per leaf), which is compiled through the cache like any other graph and run once.
/// Gradients are added to the leaves' `grad` as PyTorch does.
///
/// Values that no gradient flows through enter the graph as parameters (computed first if
/// pending) when they were computed from values that do carry gradients (under `noGrad`, or
/// detached): the autodiff pass must not see through them. Pending constant work (one-hot
/// targets, counts) is recorded in the joint graph itself.
final class Autograd {
    private Autograd() {}

    static void backward(Tensor out, Tensor gradient) {
        Loc loc = Locations.capture();
        if (Tracer.isTracing())
            throw new KilnException(loc, "backward() cannot be traced; use Kiln.compileTrainStep to compile a training step");
        if (!out.requiresGrad())
            throw new KilnException(loc, "backward(): the tensor does not require grad: none of the tensors it was computed "
                    + "from has requiresGrad(true), or it was computed under Kiln.noGrad()");
        if (gradient == null && out.numel() != 1)
            throw new KilnException(loc, "backward(): the tensor has shape " + out.shapeText() + "; a gradient can be "
                    + "created implicitly only for a one-element output: pass backward(gradient) with that shape");
        if (gradient != null && !gradient.type().shape().equals(out.type().shape()))
            throw new KilnException(loc, "backward(gradient): the gradient has shape " + gradient.shapeText()
                    + ", the tensor has shape " + out.shapeText());

        Plan plan = new Plan(out.node);
        Device device = out.device();
        Realizer.realize(plan.computeFirst, device);
        Node seed = gradient == null ? null : gradient.to(out.dtype()).detach().node;
        if (seed != null) Realizer.realize(List.of(seed), device);

        List<Node> wrtNodes = new ArrayList<>();
        Extract ex = new Extract(n -> plan.expands(n) ? Extract.Role.EXPAND : Extract.Role.INPUT,
                (n, i) -> {
                    if (n.kind == Node.Kind.LEAF && n.requiresGrad()) {
                        wrtNodes.add(n);
                        return "w" + i;
                    }
                    return "p" + i;
                });
        Value v = ex.add(out.node);
        boolean storesOutput = gradient == null && out.dim() == 0;
        Graph g;
        try (var _ = ex.builder().at(loc)) {
            if (seed != null) v = ex.builder().reduceSum(ex.builder().mul(v, ex.add(seed)), dev.kiln.ir.Axes.range(out.dim()));
            else if (out.dim() != 0) v = ex.builder().reshape(v, new TensorType(out.dtype(), dev.kiln.ir.Shape.SCALAR));
            g = ex.build("backward", List.of(v));
        }
        if (wrtNodes.isEmpty())
            throw new KilnException(loc, "backward(): no leaf the tensor depends on requires grad any longer");
        List<String> wrt = wrtNodes.stream().map(n -> ((dev.kiln.ir.Op.Param) ex.valueOf(n).op()).name()).toList();
        Graph fg = g;
        var exe = Compiler.get("grad " + wrt + " " + GraphKey.of(g), () -> Differentiate.joint(fg, wrt), device);
        List<NdArray> in = new ArrayList<>();
        List<NdArray> res;
        try {
            for (Node n : ex.inputs()) {
                n.fetch();
                in.add(n.data);
            }
            res = exe.run(in);
        } finally {
            exe.close();
        }
        if (storesOutput && out.node.data == null) out.node.data = res.getFirst();
        try (var _ = Kiln.noGrad()) {
            for (int i = 0; i < wrtNodes.size(); i++) {
                Tensor owner = wrtNodes.get(i).owner;
                Tensor g1 = new Tensor(res.get(1 + i), owner.device());
                owner.setGrad(owner.grad() == null ? g1 : owner.grad().add(g1));
            }
        }
    }

    /// What the joint graph does with each node: gradient-carrying ops and pending constant
    /// subgraphs (targets, one-hot encodings, counts: no gradient can reach a leaf through them)
    /// are recorded in it; everything else is an input, computed first when pending.
    private static final class Plan {
        final Map<Node, Boolean> inline = new IdentityHashMap<>();
        final List<Node> computeFirst = new ArrayList<>();

        Plan(Node root) {
            Map<Node, Boolean> seen = new IdentityHashMap<>();
            Deque<Node> stack = new ArrayDeque<>();
            stack.push(root);
            seen.put(root, true);
            while (!stack.isEmpty()) {
                Node n = stack.pop();
                for (Node in : n.inputs) {
                    if (seen.put(in, true) != null) continue;
                    if (in.kind == Node.Kind.OP && (in.requiresGrad() || inlinable(in))) stack.push(in);
                    else if (in.data == null) computeFirst.add(in);
                }
            }
        }

        boolean expands(Node n) { return n.kind == Node.Kind.OP && (n.requiresGrad() || n.data == null && inlinable(n)); }

        /// A pending op without gradient whose history reaches no value a gradient flows through:
        /// recording it in the joint graph cannot change any gradient.
        boolean inlinable(Node root) {
            Boolean known = inline.get(root);
            if (known != null) return known;
            Deque<Node> stack = new ArrayDeque<>();
            stack.push(root);
            while (!stack.isEmpty()) {
                Node n = stack.peek();
                if (inline.containsKey(n)) {
                    stack.pop();
                    continue;
                }
                if (n.kind != Node.Kind.OP || n.data != null || n.requiresGrad()) {
                    inline.put(n, false);
                    stack.pop();
                    continue;
                }
                boolean ready = true, ok = true;
                for (Node in : n.inputs) {
                    if (in.data != null && !in.requiresGrad()) continue;
                    Boolean k = inline.get(in);
                    if (k == null) {
                        stack.push(in);
                        ready = false;
                    } else ok &= k;
                }
                if (ready) {
                    inline.put(n, ok);
                    stack.pop();
                }
            }
            return inline.get(root);
        }
    }
}
