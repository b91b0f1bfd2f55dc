package dev.kiln.cli;

import dev.kiln.Device;
import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.codegen.cuda.CudaBackend;
import dev.kiln.nn.CrossEntropyLoss;
import dev.kiln.optim.Adam;

import java.util.Arrays;
import java.util.Locale;

/// The seed's MNISTNet train step built by the frontend (`Kiln.compileTrainStep` on
/// `Device.cuda()`, Adam 1e-3, cross-entropy), timed on the GPU: trace and compile time, then the
/// median wall time of `step(x, y).item()` (batch in, loss out; weights and Adam state resident).
/// Run by scripts/gpu-check.sh (a plain main: the GPU machine has a JRE and no Maven); exits 2
/// without a GPU.
public final class GpuTrainBench {
    private GpuTrainBench() {}

    public static void main(String[] args) {
        String why = CudaBackend.unavailableReason();
        if (why != null) {
            System.out.println("gpu-train-bench: no GPU: " + why);
            System.exit(2);
        }
        for (int batch : new int[]{64, 4096}) {
            Kiln.manualSeed(0);
            Device cuda = Device.cuda();
            var model = new DemoCommand.MnistNet().<DemoCommand.MnistNet>to(cuda);
            var optimizer = new Adam(model.parameters(), 1e-3);
            Tensor x = Tensor.randn(batch, 1, 28, 28).to(cuda), y = Tensor.randint(0, 10, batch).to(cuda);
            long t0 = System.nanoTime();
            TrainStep step = Kiln.compileTrainStep(model, new CrossEntropyLoss(), optimizer, x, y);
            float first = step.step(x, y).item();
            double compileMs = (System.nanoTime() - t0) / 1e6;
            int iterations = batch > 1000 ? 20 : 300;
            for (int i = 0; i < 10; i++) step.step(x, y).item();
            double[] t = new double[iterations];
            float last = 0;
            for (int i = 0; i < iterations; i++) {
                long s = System.nanoTime();
                last = step.step(x, y).item();
                t[i] = (System.nanoTime() - s) / 1e3;
            }
            Arrays.sort(t);
            System.out.printf(Locale.ROOT, "frontend MNISTNet train step b%-5d %10.1f us median step  (compileTrainStep + first step %.0f ms; loss %.3f -> %.3f, same batch)%n",
                    batch, t[t.length / 2], compileMs, first, last);
        }
    }
}
