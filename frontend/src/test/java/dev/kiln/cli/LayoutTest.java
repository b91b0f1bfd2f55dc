package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.kiln.cli.Layout.Box;
import dev.kiln.cli.Layout.Drawing;
import dev.kiln.cli.Layout.Placed;
import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Parser;
import dev.kiln.passes.autodiff.Differentiate;

class LayoutTest {
    @Test void isotonicRegressionPoolsViolators() {
        // [1, 3, 2]: 3 > 2 violates, pooled to their mean 2.5
        assertArrayEquals(new double[] {1, 2.5, 2.5}, Layout.isotonic(new double[] {1, 3, 2}), 1e-12);
        // a decreasing run pools to one block: the mean of all
        assertArrayEquals(new double[] {2, 2, 2}, Layout.isotonic(new double[] {3, 2, 1}), 1e-12);
        // already ordered: unchanged
        assertArrayEquals(new double[] {-1, 0, 0, 5}, Layout.isotonic(new double[] {-1, 0, 0, 5}), 1e-12);
        // [4, 0, 5, 1, 1]: {4,0} -> 2, then {5,1,1} -> 7/3
        assertArrayEquals(new double[] {2, 2, 7.0 / 3, 7.0 / 3, 7.0 / 3}, Layout.isotonic(new double[] {4, 0, 5, 1, 1}), 1e-12);
    }

    static List<Graph> graphs() throws Exception {
        List<Graph> out = new ArrayList<>();
        for (Path f : Examples.kirFiles()) out.add(Parser.parse(Files.readString(f), f.toString()));
        Graph mlp = out.stream().filter(g -> g.name().equals("mlp")).findFirst().orElseThrow();
        out.add(Differentiate.joint(mlp, List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")));
        return out;
    }

    static boolean overlap(Box a, Box b) {
        return a.x() < b.x() + b.w() && b.x() < a.x() + a.w() && a.y() < b.y() + b.h() && b.y() < a.y() + a.h();
    }

    static boolean inside(Box in, Box out) {
        return in.x() >= out.x() && in.y() >= out.y() && in.x() + in.w() <= out.x() + out.w() && in.y() + in.h() <= out.y() + out.h();
    }

    @Test void boxesDoNotOverlapAndKernelsHoldTheirRegion() throws Exception {
        for (Graph g : graphs()) {
            GraphView view = GraphView.of(g);
            Drawing d = Layout.of(view);
            assertEquals(view.allNodes().size(), d.nodes().size());
            Map<String, Placed> byId = new HashMap<>();
            for (Placed p : d.nodes()) byId.put(p.node().id(), p);
            for (Placed a : d.nodes()) {
                Box box = a.box();
                assertTrue(box.x() >= 0 && box.y() >= 0 && box.x() + box.w() <= d.width() && box.y() + box.h() <= d.height(),
                        a.node().id() + " lies outside the drawing");
                if (a.parent() != null) assertTrue(inside(box, byId.get(a.parent()).box()), a.node().id() + " outside its kernel");
                for (Placed b : d.nodes())
                    if (a != b && java.util.Objects.equals(a.parent(), b.parent()))
                        assertTrue(!overlap(a.box(), b.box()), g.name() + ": " + a.node().id() + " overlaps " + b.node().id());
                // text fits: the widest line at the assumed character width
                int chars = a.lines().stream().mapToInt(String::length).max().orElse(0);
                assertTrue(box.w() >= chars * Layout.CHAR, a.node().id());
            }
        }
    }

    @Test void edgesRunFromTheSourceBottomToTheTargetTopGoingDown() throws Exception {
        for (Graph g : graphs()) {
            Drawing d = Layout.of(GraphView.of(g));
            Map<String, Box> boxes = new HashMap<>();
            for (Placed p : d.nodes()) boxes.put(p.node().id(), p.box());
            for (Layout.Path path : d.paths()) {
                Box from = boxes.get(path.edge().from()), to = boxes.get(path.edge().to());
                double[] p = path.points();
                assertEquals(from.cx(), p[0], 1e-9);
                assertEquals(from.y() + from.h(), p[1], 1e-9);
                assertEquals(to.y(), p[p.length - 1], 1e-9);
                assertTrue(p[p.length - 2] >= to.x() && p[p.length - 2] <= to.x() + to.w(), "arrives on the target's top side");
                for (int i = 3; i < p.length; i += 2) assertTrue(p[i] > p[i - 2], g.name() + ": edge " + path.edge() + " goes up");
            }
        }
    }

    @Test void operandsArriveLeftToRightInOrder() throws Exception {
        Graph mlp = graphs().getFirst().name().equals("mlp") ? graphs().getFirst()
                : graphs().stream().filter(g -> g.name().equals("mlp")).findFirst().orElseThrow();
        Drawing d = Layout.of(GraphView.of(mlp));
        // `%11 = sub %8, %10`: operand 0 enters left of operand 1
        double[] x = new double[2];
        for (Layout.Path p : d.paths())
            if (p.edge().to().equals("v11")) x[p.edge().port()] = p.points()[p.points().length - 2];
        assertTrue(x[0] < x[1], x[0] + " vs " + x[1]);
    }

    @Test void aGraphTooLargeToDrawIsRefusedNotAttempted() {
        // A chain of 1500 ops whose every value is also used by the last op: its edges need about
        // 1500^2 bend points, which is refused with advice instead of filling the heap.
        dev.kiln.ir.Builder b = new dev.kiln.ir.Builder();
        dev.kiln.ir.Value v = b.param("x", dev.kiln.ir.TensorType.f32(1));
        List<dev.kiln.ir.Value> all = new ArrayList<>();
        for (int i = 0; i < 1500; i++) all.add(v = b.neg(v));
        Graph g = b.build("wide", b.concat(all, 0));
        CliException e = org.junit.jupiter.api.Assertions.assertThrows(CliException.class, () -> Layout.of(GraphView.of(g)));
        assertTrue(e.getMessage().startsWith("the graph is too large to draw (1503 nodes whose edges need "), e.getMessage());
        assertTrue(e.getMessage().endsWith("dump it with --format dot or text"), e.getMessage());
    }
}
