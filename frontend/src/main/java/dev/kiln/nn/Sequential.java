package dev.kiln.nn;

import dev.kiln.Tensor;

import java.util.List;

/// Modules applied in order, named `0`, `1`, ... as in PyTorch (so `conv.0.weight`).
public class Sequential extends Module {
    private final List<Module> layers;

    public Sequential(Module... layers) {
        this.layers = List.of(layers);
        for (int i = 0; i < layers.length; i++) register(Integer.toString(i), layers[i]);
    }

    public Module get(int i) { return layers.get(i); }
    public int size() { return layers.size(); }

    @Override public Tensor forward(Tensor x) {
        for (Module m : layers)
            try (var _ = m.scope()) {
                x = m.forward(x);
            }
        return x;
    }
}
