package dev.kiln.examples;

import dev.kiln.Kiln;
import dev.kiln.Tensor;
import dev.kiln.nn.Linear;
import dev.kiln.nn.Module;
import dev.kiln.nn.ReLU;
import dev.kiln.nn.Sequential;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/// 7. Saving and loading a state dict as safetensors, with PyTorch's names: a file saved from
/// PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`) loads the same way.
public class SaveLoad {
    public static void main(String[] args) throws Exception {
        Path path = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("kiln").resolve("mlp.safetensors");
        Kiln.manualSeed(0);
        Module net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
        Kiln.save(net.stateDict(), path);
        System.out.println("saved " + net.stateDict().keySet() + " to " + path.getFileName());

        Kiln.manualSeed(1);
        Module copy = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
        copy.loadStateDict(Kiln.load(path));
        Tensor x = Tensor.rand(3, 4);
        boolean same = Arrays.equals(net.forward(x).toFloatArray(), copy.forward(x).toFloatArray());
        System.out.println("loaded model gives the same outputs: " + same);
    }
}
