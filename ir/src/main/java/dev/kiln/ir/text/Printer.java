package dev.kiln.ir.text;

import dev.kiln.ir.Graph;

/// Placeholder until the text printer lands.
public final class Printer {
    private Printer() {}
    public static String print(Graph g) { return "graph @" + g.name(); }
}
