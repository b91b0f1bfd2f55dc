package dev.kiln.passes.fusion;

import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Printer;
import dev.kiln.passes.PassManager;
import org.junit.jupiter.api.Test;

class MlpFusionTest {
    @Test void show() {
        Graph g = PassManager.standard(PassManager.Options.none()).run(Mlp.trainStep());
        System.out.println(Printer.print(g));
        Fuse.Result r = Fuse.fuse(g);
        System.out.println(r.report());
        System.out.println(Printer.print(r.graph(), true));
    }
}
