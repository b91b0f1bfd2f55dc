package dev.kiln.codegen.cuda;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Value;
import dev.kiln.passes.DumpDir;
import dev.kiln.passes.GraphDump;
import dev.kiln.ir.kernel.KirPrinter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.kiln.ir.TensorType.f32;
import static org.junit.jupiter.api.Assertions.*;

/// The parts of the backend that need no GPU: availability is a yes or a one-line reason,
/// compiling without a GPU fails with that line (never a fallback), and dumps write the PTX
/// and a resource report for every entry.
class CudaBackendTest {
    static Graph relu() {
        Builder b = new Builder();
        Value x = b.param("x", f32("B", 8));
        return b.build("relu", b.relu(x));
    }

    @Test void availabilityIsAYesOrOneLine() {
        if (CudaBackend.available()) {
            assertNull(CudaBackend.unavailableReason());
            assertFalse(CudaBackend.deviceName().isBlank());
        } else {
            String why = CudaBackend.unavailableReason();
            assertFalse(why.isBlank());
            assertFalse(why.contains("\n"), why);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> CudaBackend.compile(relu()));
            assertEquals(why, e.getMessage());
            System.out.println("[no GPU here] " + why);
        }
    }

    @Test void dumpAddsKernelIrPtxAndAResourceLinePerEntryAsNumberedStages(@TempDir Path root) throws Exception {
        GraphDump dump = DumpDir.at(root).graph("relu");
        PtxProgram p = CudaBackend.ptx(relu(), PtxGen.Options.DEFAULT, dump);
        Path dir = root.resolve("001-relu");
        assertEquals(p.ptx(), Files.readString(dir.resolve("01-ptx.ptx")));
        assertEquals(KirPrinter.print(p.program()), Files.readString(dir.resolve("00-kernels.txt")));
        String report = Files.readString(dir.resolve("02-resources.txt"));
        for (String arch : new String[]{"sm_80", "sm_90"}) assertTrue(report.contains("// " + arch), report);
        long lines = report.lines().filter(l -> l.startsWith("k0_relu_0 ")).count();
        assertEquals(2, lines, report);
        assertTrue(report.matches("(?s).*k0_relu_0 +\\d+ regs .*"), report);
        List<String> index = Files.readAllLines(dir.resolve("index.txt"));
        assertEquals(3, index.size(), index.toString());
        assertTrue(index.get(0).matches("00-kernels.txt +[0-9.]+ ms  kernels=" + p.program().kernels().size() + "  buffers=\\d+"), index.get(0));
        assertTrue(index.get(1).matches("01-ptx.ptx +[0-9.]+ ms  entries=1  launches=" + p.launches().size() + "  lines=\\d+"), index.get(1));
        assertTrue(index.get(2).matches("02-resources.txt +[0-9.]+ ms  entries=1"), index.get(2));
        try (var files = Files.list(dir)) {
            assertEquals(4, files.count(), "no temporary files left behind");
        }
    }

    @Test void anInvalidKernelFailsWithTheCompilersLog() {
        String bad = ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k() {\n\tadd.f32 %f1, %f2, %f3;\n\tret;\n}\n";
        PtxCompiler.PtxException e = assertThrows(PtxCompiler.PtxException.class, () -> PtxCompiler.compile(bad, "sm_80"));
        assertTrue(e.getMessage().contains("%f1"), e.getMessage());
    }

    /// The fallback for machines where the compiler library does not load: `ptxas`, when one
    /// is installed, gives the same verdict and the same per-entry report.
    @Test void ptxasFallbackAgreesWithTheLibrary() {
        java.nio.file.Path ptxas = PtxCompiler.ptxas();
        org.junit.jupiter.api.Assumptions.assumeTrue(ptxas != null, "no ptxas installed here");
        PtxProgram p = CudaBackend.ptx(relu());
        PtxCompiler.Result viaTool = PtxCompiler.withPtxas(ptxas, p.ptx(), "sm_80"), viaLib = PtxCompiler.compile(p.ptx(), "sm_80");
        assertEquals(viaLib.resources().keySet(), viaTool.resources().keySet());
        assertTrue(viaTool.cubin().length > 0);
        assertThrows(PtxCompiler.PtxException.class, () -> PtxCompiler.withPtxas(ptxas, p.ptx().replace("ret;", "bogus;"), "sm_80"));
    }

    @Test void resourceLinesAreParsed() {
        String log = """
                ptxas info    : Compiling entry function 'k1' for 'sm_80'
                ptxas info    : Function properties for k1
                    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
                ptxas info    : Used 40 registers, 528 bytes smem, 380 bytes cmem[0]
                ptxas info    : Compiling entry function 'k2' for 'sm_80'
                ptxas info    : Function properties for k2
                    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
                ptxas info    : Used 8 registers, used 0 barriers
                """;
        var r = PtxCompiler.parse(log);
        assertEquals(new PtxCompiler.Resources("k1", 40, 528, 8, 4, 16), r.get("k1"));
        assertEquals(new PtxCompiler.Resources("k2", 8, 0, 0, 0, 0), r.get("k2"));
    }
}
