package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Npy;

/// The sample data under `examples/ir/data/` is what `Examples.mlpInputs` makes. Run with
/// `-Dexamples.update=true` to write it again (after changing the generator on purpose).
class ExamplesTest {
    @Test void sampleDataIsWhatTheGeneratorMakes() throws Exception {
        Map<String, NdArray> inputs = Examples.mlpInputs();
        if (Boolean.getBoolean("examples.update")) {
            Files.createDirectories(Examples.data());
            for (var e : inputs.entrySet()) Npy.write(Examples.data().resolve(e.getKey() + ".npy"), e.getValue());
        }
        for (var e : inputs.entrySet()) {
            Path p = Examples.data().resolve(e.getKey() + ".npy");
            assertTrue(Files.exists(p), p + " is missing; run the tests with -Dexamples.update=true");
            assertTrue(Npy.read(p).contentEquals(e.getValue()), p + " differs from the generator");
        }
        try (var files = Files.list(Examples.data())) {
            assertEquals(inputs.size(), files.count(), "examples/ir/data holds files the generator does not make");
        }
    }

    @Test void sampleTargetsAreClasses() {
        NdArray t = Examples.mlpInputs().get("target");
        for (int i = 0; i < t.size(); i++) assertTrue(t.getLong(i) >= 0 && t.getLong(i) < 10, "class " + t.getLong(i));
    }

    @Test void theExamplesAreTheOnesTheReadmeShows() {
        List<String> names = Examples.kirFiles().stream().map(p -> p.getFileName().toString()).toList();
        assertTrue(names.containsAll(List.of("mlp.kir", "conv.kir", "fused.kir", "smooth_l1.kir", "dropout.kir")), names.toString());
    }
}
