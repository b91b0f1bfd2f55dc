package dev.kiln.codegen.jvm;

import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Parser;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/// Whole-output goldens of what the backend makes of one small graph (a fused bias + relu
/// over a symbolic batch, then a row sum): its kernel IR and its bytecode, javap-style. A
/// change to lowering or code generation shows here as a diff to review;
/// `-Dgolden.update=true` rewrites the files.
class GoldenDumpTest {
    static final String GRAPH = """
            graph @bias_relu_sum(%x: f32[B,4], %b: f32[4]) -> (f32[B]) {
              %0 = fused %x, %b {kernel="bias_relu"} : f32[B,4] {
                (%arg0: f32[B,4], %arg1: f32[4]):
                %1 = broadcast %arg1 {dims=[1]} : f32[B,4]
                %2 = add %arg0, %1 : f32[B,4]
                %3 = relu %2 : f32[B,4]
                yield %3
              }
              %4 = reduce_sum %0 {axes=[1]} : f32[B]
              return %4
            }
            """;

    @Test void kernelIr() throws IOException { golden("bias_relu_sum.kernels.txt", JvmBackend.dumpKernels(graph())); }

    @Test void bytecode() throws IOException { golden("bias_relu_sum.bytecode.txt", JvmBackend.dumpBytecode(graph())); }

    static Graph graph() { return Parser.parse(GRAPH, "golden.kir"); }

    static void golden(String name, String actual) throws IOException {
        Path file = Path.of("src/test/resources/golden", name);
        if (Boolean.getBoolean("golden.update")) dev.kiln.runtime.AtomicFiles.write(file, actual.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(Files.exists(file), file + " is missing (a golden is written only on request: rerun with -Dgolden.update=true and review it)");
        assertEquals(Files.readString(file), actual, name + " (rerun with -Dgolden.update=true to accept)");
    }
}
