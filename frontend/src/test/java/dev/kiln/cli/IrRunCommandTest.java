package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class IrRunCommandTest {
    static final String GRAPH = """
            graph @g(%x: f32[B,3]) -> (f32[B,3], f32[B]) {
              %0 = relu %x : f32[B,3]
              %1 = reduce_sum %0 {axes=[1]} : f32[B]
              return %0, %1
            }
            """;

    @Test void jvmAndInterpreterPrintTheSameResults(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("g.kir");
        Files.writeString(f, GRAPH);
        MainTest.Result jvm = MainTest.run("ir", "run", f.toString(), "--bind", "B=4");
        MainTest.Result interp = MainTest.run("ir", "run", f.toString(), "--bind", "B=4", "--backend", "interp");
        assertEquals(0, jvm.code(), jvm.err());
        assertEquals(0, interp.code(), interp.err());
        assertTrue(jvm.out().startsWith("result #0: f32[4,3] ["), jvm.out());
        // random inputs depend only on the seed: relu then a row sum match to the last digit here
        assertEquals(interp.out(), jvm.out());
    }

    @Test void dumpsKernelIrAndBytecode(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("g.kir");
        Files.writeString(f, GRAPH);
        MainTest.Result k = MainTest.run("ir", "run", f.toString(), "--dump-kernels");
        assertEquals(0, k.code(), k.err());
        assertTrue(k.out().startsWith("program @g symbols [B]"), k.out());
        assertTrue(k.out().contains("relu(b0["), k.out());
        MainTest.Result b = MainTest.run("ir", "run", f.toString(), "--dump-bytecode");
        assertTrue(b.out().contains("INVOKESTATIC java/lang/Math.max (FF)F"), b.out());
    }

    @Test void unknownBackendIsOneLine(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("g.kir");
        Files.writeString(f, GRAPH);
        MainTest.Result r = MainTest.run("ir", "run", f.toString(), "--backend", "tpu");
        assertEquals(1, r.code());
        assertEquals("kiln: error: unknown backend 'tpu' (known: jvm, interp)", r.err().strip());
    }
}
