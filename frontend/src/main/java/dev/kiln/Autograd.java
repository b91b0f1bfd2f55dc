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
/// Values that no gradient flows through (inputs, targets, results computed under `noGrad` or
/// detached) enter the graph as parameters, computed first if pending, so the autodiff pass sees
/// only the part of the history that gradients flow through.
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

        Realizer.realize(frontier(out.node));
        Node seed = gradient == null ? null : gradient.to(out.dtype()).detach().node;
        if (seed != null) Realizer.realize(List.of(seed));

        List<Node> wrtNodes = new ArrayList<>();
        Extract ex = new Extract(n -> n.kind == Node.Kind.OP && n.requiresGrad() ? Extract.Role.EXPAND : Extract.Role.INPUT,
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
        var exe = Compiler.get("grad " + wrt + " " + GraphKey.of(g), () -> Differentiate.joint(fg, wrt));
        List<NdArray> in = new ArrayList<>();
        for (Node n : ex.inputs()) in.add(n.data);
        List<NdArray> res = exe.run(in);
        if (storesOutput && out.node.data == null) out.node.data = res.getFirst();
        try (var _ = Kiln.noGrad()) {
            for (int i = 0; i < wrtNodes.size(); i++) {
                Tensor owner = wrtNodes.get(i).owner;
                Tensor g1 = new Tensor(res.get(1 + i), owner.device());
                owner.setGrad(owner.grad() == null ? g1 : owner.grad().add(g1));
            }
        }
    }

    /// The pending nodes that the history of `root` reads but no gradient flows through.
    static List<Node> frontier(Node root) {
        List<Node> out = new ArrayList<>();
        Map<Node, Boolean> seen = new IdentityHashMap<>();
        Deque<Node> stack = new ArrayDeque<>();
        stack.push(root);
        seen.put(root, true);
        while (!stack.isEmpty()) {
            Node n = stack.pop();
            for (Node in : n.inputs) {
                if (seen.put(in, true) != null) continue;
                if (in.kind == Node.Kind.OP && in.requiresGrad()) stack.push(in);
                else if (in.data == null) out.add(in);
            }
        }
        return out;
    }
}
