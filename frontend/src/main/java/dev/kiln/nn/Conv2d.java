package dev.kiln.nn;

import dev.kiln.KilnException;
import dev.kiln.Tensor;

/// 2-D convolution (cross-correlation) over `[N, C, H, W]` as PyTorch's `nn.Conv2d`, with stride,
/// zero padding, dilation and groups. `weight [out, in/groups, k, k]`, `bias [out]`.
public class Conv2d extends Module {
    public final int inChannels, outChannels, kernelSize, stride, padding, dilation, groups;
    public final Tensor weight, bias;

    public Conv2d(int inChannels, int outChannels, int kernelSize) { this(inChannels, outChannels, kernelSize, 1, 0); }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride, int padding) {
        this(inChannels, outChannels, kernelSize, stride, padding, 1, 1, true);
    }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride, int padding, int dilation, int groups, boolean bias) {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new KilnException("Conv2d: in_channels " + inChannels + " and out_channels " + outChannels
                    + " must be divisible by groups " + groups);
        if (kernelSize < 1 || stride < 1 || padding < 0 || dilation < 1)
            throw new KilnException("Conv2d: bad kernel_size " + kernelSize + ", stride " + stride + ", padding " + padding
                    + " or dilation " + dilation);
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernelSize = kernelSize;
        this.stride = stride;
        this.padding = padding;
        this.dilation = dilation;
        this.groups = groups;
        int fanIn = inChannels / groups * kernelSize * kernelSize;
        this.weight = registerParameter("weight", Init.kaimingUniform(fanIn, outChannels, inChannels / groups, kernelSize, kernelSize));
        this.bias = bias ? registerParameter("bias", Init.biasUniform(fanIn, outChannels)) : null;
    }

    @Override public Tensor forward(Tensor x) {
        try (var _ = scope()) {
            return Functional.conv2d(x, weight, bias, new int[]{stride}, new int[]{padding}, new int[]{dilation}, groups);
        }
    }

    @Override protected String extraRepr() {
        String s = inChannels + ", " + outChannels + ", kernel_size=(" + kernelSize + ", " + kernelSize + "), stride=("
                + stride + ", " + stride + ")";
        if (padding != 0) s += ", padding=(" + padding + ", " + padding + ")";
        if (dilation != 1) s += ", dilation=(" + dilation + ", " + dilation + ")";
        if (groups != 1) s += ", groups=" + groups;
        if (bias == null) s += ", bias=False";
        return s;
    }
}
