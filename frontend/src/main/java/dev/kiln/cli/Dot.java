package dev.kiln.cli;

import dev.kiln.cli.GraphView.Edge;
import dev.kiln.cli.GraphView.Kind;
import dev.kiln.cli.GraphView.Node;
import dev.kiln.cli.GraphView.Phase;
import dev.kiln.cli.GraphView.Scene;

/// A `GraphView` as Graphviz DOT (`dot -Tsvg mlp.dot > mlp.svg`): ops are boxes (forward blue,
/// backward orange), parameters green ellipses, each fused kernel a dashed cluster holding its
/// region, edges labelled with the type that flows; the tooltip of each node (shown on hover in
/// SVG output) holds its statement, location and attributes. Edges into a kernel end at the
/// region parameter they feed; edges out of it start at its `yield`. Invariant: the output is
/// one `digraph` whose identifiers and labels are quoted and escaped, whatever the names hold.
final class Dot {
    private Dot() {}

    static String of(GraphView view) {
        StringBuilder s = new StringBuilder();
        s.append("digraph ").append(quote(view.name())).append(" {\n");
        s.append("  graph [fontname=\"Helvetica\", fontsize=11, labelloc=t, label=").append(quote(view.signature()))
                .append(", nodesep=0.25, ranksep=0.35];\n");
        s.append("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, penwidth=1.2];\n");
        s.append("  edge [fontname=\"Helvetica\", fontsize=8, arrowsize=0.6];\n");
        scene(view.scene(), "  ", s);
        s.append("}\n");
        return s.toString();
    }

    private static void scene(Scene scene, String indent, StringBuilder s) {
        for (Node n : scene.nodes()) {
            if (n.kind() == Kind.FUSED) {
                s.append(indent).append("subgraph ").append(quote("cluster_" + n.id())).append(" {\n");
                String inner = indent + "  ";
                s.append(inner).append("label=").append(quote(n.title() + " " + n.name() + "\n" + n.type()))
                        .append("; style=\"dashed,rounded,filled\"; fillcolor=\"#faf5ff\"; color=\"#7c3aed\"; fontcolor=\"#5b21b6\"; ")
                        .append("fontsize=10; tooltip=").append(quote(tooltip(n))).append(";\n");
                scene(n.region(), inner, s);
                s.append(indent).append("}\n");
                continue;
            }
            s.append(indent).append(quote(n.id())).append(" [label=").append(quote(String.join("\n", Layout.lines(n))));
            switch (n.kind()) {
                case PARAM -> s.append(", shape=ellipse, fillcolor=\"#dcfce7\", color=\"#16a34a\"");
                case RETURN -> s.append(", shape=box, style=\"filled\", fillcolor=\"#f1f5f9\", color=\"#475569\"");
                default -> s.append(", fillcolor=\"").append(fill(n.phase())).append("\", color=\"").append(stroke(n.phase())).append('"');
            }
            s.append(", tooltip=").append(quote(tooltip(n))).append("];\n");
        }
        for (Edge e : scene.edges()) {
            s.append(indent).append(quote(from(scene, e.from()))).append(" -> ").append(quote(to(scene, e.to(), e.port())))
                    .append(" [label=").append(quote(e.label())).append(", color=\"").append(e.phase() == Phase.FORWARD ? "#64748b" : stroke(e.phase()))
                    .append("\", fontcolor=\"#475569\"];\n");
        }
    }

    /// Where an edge from `id` starts: a kernel's result leaves from its `yield`.
    private static String from(Scene scene, String id) {
        Node n = find(scene, id);
        return n != null && n.kind() == Kind.FUSED ? from(n.region(), id + ".yield") : id;
    }

    /// Where an edge into operand `port` of `id` ends: a kernel's input enters at its region parameter.
    private static String to(Scene scene, String id, int port) {
        Node n = find(scene, id);
        if (n == null || n.kind() != Kind.FUSED) return id;
        return id + ".p" + port;
    }

    private static Node find(Scene scene, String id) {
        for (Node n : scene.nodes()) if (n.id().equals(id)) return n;
        return null;
    }

    static String tooltip(Node n) {
        StringBuilder t = new StringBuilder(n.statement());
        if (!n.loc().isEmpty()) t.append("\nloc: ").append(n.loc());
        for (GraphView.Attr a : n.attributes()) t.append('\n').append(a.name()).append(" = ").append(a.value());
        return t.toString();
    }

    static String fill(Phase p) {
        return switch (p) {
            case FORWARD -> "#dbeafe";
            case BACKWARD -> "#ffedd5";
            case MIXED -> "#fef9c3";
        };
    }

    static String stroke(Phase p) {
        return switch (p) {
            case FORWARD -> "#2563eb";
            case BACKWARD -> "#ea580c";
            case MIXED -> "#ca8a04";
        };
    }

    /// A DOT string: backslash and quote escaped, line breaks as `\n`, other control characters dropped.
    static String quote(String text) {
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\\' -> s.append("\\\\");
                case '"' -> s.append("\\\"");
                case '\n' -> s.append("\\n");
                default -> {
                    if (c >= ' ' && c != 0x7f) s.append(c);
                }
            }
        }
        return s.append('"').toString();
    }

}
